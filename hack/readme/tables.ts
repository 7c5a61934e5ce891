/** The README's generated tables: each lives between `<!-- name:start -->` and `<!-- name:end -->`. */
import { chaosTable } from './chaos.ts';
import { refusalsTable } from './refusals.ts';

export const TABLES: Record<string, () => string> = { refusals: refusalsTable, chaos: chaosTable };

export function withTables(readme: string): string {
  let out = readme;
  for (const [name, render] of Object.entries(TABLES)) {
    const start = `<!-- ${name}:start -->`;
    const end = `<!-- ${name}:end -->`;
    const a = out.indexOf(start);
    const b = out.indexOf(end);
    if (a < 0 || b < a) throw new Error(`README.md has no ${start} ... ${end} block`);
    out = `${out.slice(0, a + start.length)}\n${render()}\n${out.slice(b)}`;
  }
  return out;
}
