/**
 * The generated tables of the docs: each lives in its file (relative to the repository root) between
 * `<!-- name:start -->` and `<!-- name:end -->`.
 */
import { chaosTable } from './chaos.ts';
import { refusalsTable } from './refusals.ts';

export const TABLES: Record<string, { file: string; render: () => string }> = {
  refusals: { file: 'docs/security.md', render: refusalsTable },
  chaos: { file: 'docs/faults.md', render: chaosTable },
};

/** The files that hold generated tables. */
export const TABLE_FILES: string[] = [...new Set(Object.values(TABLES).map((t) => t.file))];

/** `text`, the contents of `file`, with each of that file's tables as generated. */
export function withTables(file: string, text: string): string {
  let out = text;
  for (const [name, { file: home, render }] of Object.entries(TABLES)) {
    if (home !== file) continue;
    const start = `<!-- ${name}:start -->`;
    const end = `<!-- ${name}:end -->`;
    const a = out.indexOf(start);
    const b = out.indexOf(end);
    if (a < 0 || b < a) throw new Error(`${file} has no ${start} ... ${end} block`);
    out = `${out.slice(0, a + start.length)}\n${render()}\n${out.slice(b)}`;
  }
  return out;
}
