import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crdFiles } from './crd.ts';

/** `teamkeys crds [dir]`: writes the generated CRD YAML (default: ./crds). */
export async function runCrds(argv: string[]): Promise<void> {
  const dir = argv[0] ?? 'crds';
  for (const [name, text] of Object.entries(crdFiles())) {
    await writeFile(join(dir, name), text);
    process.stdout.write(`wrote ${join(dir, name)}\n`);
  }
}
