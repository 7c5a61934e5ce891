/**
 * `make chaos`: every fault scenario at full size, each on its own cluster with a few hundred members and users at
 * work (test/chaos/scenarios.ts). Prints the table and writes test/chaos/results.json, which the table in
 * docs/faults.md is made from (`make readme`). Sizes from the environment: CHAOS_MEMBERS (300), CHAOS_KILLS (200), CHAOS_SEED.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { kills, outage, partition, storm, type Row } from './scenarios.ts';

const sizes = { members: Number(process.env['CHAOS_MEMBERS'] ?? 300), seed: Number(process.env['CHAOS_SEED'] ?? 20261127), convergeTimeoutMs: 600_000 };
const rows: Row[] = [];
for (const run of [
  () => kills(sizes, Number(process.env['CHAOS_KILLS'] ?? 200)),
  () => outage(sizes, 'kube-apiserver', 60_000),
  () => outage(sizes, 'etcd', 20_000),
  () => storm(sizes, 120_000),
  () => partition(sizes),
]) {
  const { row } = await run();
  rows.push(row);
  process.stderr.write(`[chaos] ${JSON.stringify(row)}\n`);
}
const head = ['scenario', 'members', 'converged in s', 'OpenRouter calls', 'keys created', 'max calls/s', 'orphans', 'double keys', 'without a working key', 'self-restarts'];
const cells = rows.map((r) => [r.scenario, r.members, r.convergeSeconds, r.calls, r.keysCreated, r.maxCallsPerSecond, r.orphans, r.doubleKeys, r.withoutWorkingKey, r.selfExits].map(String));
const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]?.length ?? 0)));
process.stdout.write(`${[head, ...cells].map((c) => c.map((x, i) => x.padEnd(widths[i] ?? 0)).join('  ')).join('\n')}\n`);
await writeFile(join(import.meta.dirname, 'results.json'), `${JSON.stringify({ at: new Date().toISOString(), seed: sizes.seed, rows }, null, 2)}\n`);
process.stdout.write('wrote test/chaos/results.json (run `make readme` for the table in docs/faults.md)\n');
