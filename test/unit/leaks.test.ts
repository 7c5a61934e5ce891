/** The key-leak hunter the integration suite runs at the end of every operator's life (test/integration/scan.ts). */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { digestOf, maskKey, newSecret } from '../../src/emulator/state.ts';
import { keyLeaks } from '../integration/scan.ts';

const key = newSecret();
const other = newSecret();
const body = key.slice('sk-or-v1-'.length);

describe('keyLeaks', () => {
  it.each([
    ['the whole key in a log line', `{"msg":"created","key":"${key}"}`, ['the first half', 'the second half']],
    ['the body without its prefix', `token=${body}`, ['the first half', 'the second half']],
    ['the second half alone', `...${body.slice(32)}"`, ['the second half']],
    ['the key in base64, as a Secret holds it', `{"data":{"OPENROUTER_API_KEY":"${Buffer.from(key).toString('base64')}"}}`, ['the base64']],
  ])('finds %s', (_what, text, parts) => {
    expect(keyLeaks([other, key], [{ where: 'here', text }])).toEqual(parts.map((p) => `here: ${p} of key …${key.slice(-4)}`));
  });
  it('does not take what is allowed for a leak: the masked label, the key hash, a short piece, another key', () => {
    const text = [maskKey(key), digestOf(key), body.slice(0, 15), body.slice(10, 40).toUpperCase(), other].join(' ');
    expect(keyLeaks([key], [{ where: 'here', text }])).toEqual([]);
  });
  it('names each place once per key, never the key', () => {
    const hits = keyLeaks([key], [{ where: 'a', text: `${key} ${key}` }, { where: 'b', text: 'clean' }]);
    expect(hits).toEqual([`a: the first half of key …${key.slice(-4)}`, `a: the second half of key …${key.slice(-4)}`]);
    expect(hits.join()).not.toContain(body.slice(0, 16));
  });
});

describe('the repository', () => {
  it('holds nothing shaped like a real key: no test snapshot, result or doc carries one', () => {
    const root = join(import.meta.dirname, '../..');
    // what a commit of the work tree would hold: tracked files still there, and new ones git does not ignore
    const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8' }).split('\0')
      .filter((f) => f && !f.endsWith('.png') && existsSync(join(root, f)));
    expect(files.length).toBeGreaterThan(100);
    const shaped = files.filter((f) => /sk-or-v1-[0-9a-f]{64}/.test(readFileSync(join(root, f), 'utf8')));
    expect(shaped).toEqual([]);
  });
});
