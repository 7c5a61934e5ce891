/** What the image runs: src/ compiled by tsc to JavaScript, started with plain node. */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '../..');

it('compiles to dist/ and runs from the compiled JavaScript', async () => {
  // inside the checkout, so the compiled code resolves node_modules as it does in the image
  await mkdir(join(ROOT, '.cache'), { recursive: true });
  const out = await mkdtemp(join(ROOT, '.cache', 'build-'));
  await run(join(ROOT, 'node_modules/.bin/tsc'), ['-p', join(ROOT, 'tsconfig.build.json'), '--outDir', join(out, 'dist')]);
  const crds = await mkdtemp(join(tmpdir(), 'teamkeys-crds-'));
  await run(process.execPath, [join(out, 'dist/main.js'), 'crds', crds]);
  expect(await readFile(join(crds, 'teamkeys.dev_teammembers.yaml'), 'utf8')).toBe(await readFile(join(ROOT, 'crds/teamkeys.dev_teammembers.yaml'), 'utf8'));
  const usage = await run(process.execPath, [join(out, 'dist/main.js')]).catch((e: { stderr: string; code: number }) => e);
  expect(usage).toMatchObject({ code: 2, stderr: expect.stringMatching(/usage: teamkeys <emulator\|crds\|operator\|report\|doctor>/) });
  const badFlag = await run(process.execPath, [join(out, 'dist/main.js'), 'operator', '--bogus']).catch((e: { stderr: string; code: number }) => e);
  expect(badFlag).toMatchObject({ code: 2, stderr: "teamkeys operator: Unknown option '--bogus'\n" });
  await rm(out, { recursive: true, force: true });
}, 60_000);
