/** The fault table of docs/faults.md, from the figures `make chaos` last wrote (test/chaos/results.json). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Row } from '../../test/chaos/scenarios.ts';

export function chaosTable(): string {
  const r = JSON.parse(readFileSync(join(import.meta.dirname, '../../test/chaos/results.json'), 'utf8')) as { at: string; seed: number; rows: Row[] };
  return [
    `\`make chaos\`, ${r.at.slice(0, 10)}, seed ${r.seed}, on the 2-core CI machine:`,
    '',
    '| scenario | live members after | converged after the users stopped | OpenRouter calls | keys created | max calls/s | orphan keys | double keys | members without a working key | operator restarts of its own |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...r.rows.map((x) => `| ${x.scenario} | ${x.members} | ${x.convergeSeconds} s | ${x.calls} | ${x.keysCreated} | ${x.maxCallsPerSecond} | ${x.orphans} | ${x.doubleKeys} | ${x.withoutWorkingKey} | ${x.selfExits} |`),
    '',
    ...r.rows.map((x) => `- ${x.scenario}: ${x.note}.`),
    '',
    'The partitioned leader\'s restart is by design: having lost its Lease, it exits, and its Deployment starts it again.',
  ].join('\n');
}
