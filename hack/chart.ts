/** `node hack/chart.ts` (make chart): writes deploy/chart/teamkeys from deploy/ and crds/, removing stale files. */
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { CHART_DIR, chartFiles } from './chart/generate.ts';

const root = join(import.meta.dirname, '..');
const dir = join(root, CHART_DIR);
const files = chartFiles(root);
for (const entry of await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => [])) {
  const path = relative(dir, join(entry.parentPath, entry.name));
  if (entry.isFile() && !(path in files)) await rm(join(dir, path));
}
for (const [path, text] of Object.entries(files)) {
  await mkdir(dirname(join(dir, path)), { recursive: true });
  await writeFile(join(dir, path), text);
}
process.stdout.write(`wrote ${Object.keys(files).length} files to ${CHART_DIR}\n`);
