/**
 * `make bench`: 100 TeamMembers applied at once against the whole local cluster and the emulator. Prints
 * apply->Ready latency (median, p99), OpenRouter calls per member provisioned, and calls per idle usage sync.
 */
import { callsBetween, pause, percentile, withBench } from './setup.ts';

const N = Number(process.env['BENCH_MEMBERS'] ?? 100);

await withBench(async ({ custom, emu, op, cfg, kubectl }) => {
  await kubectl(['apply', '-f', '-'], 'apiVersion: teamkeys.dev/v1alpha1\nkind: KeyPolicy\nmetadata: {name: bench}\nspec:\n  budget: {limitUSD: 5}\n');
  await pause(500);
  const before = emu.counters();

  const docs = Array.from({ length: N }, (_, i) => `apiVersion: teamkeys.dev/v1alpha1\nkind: TeamMember\nmetadata: {name: m${i}, namespace: bench}\nspec: {policy: bench}`);
  const t0 = Date.now();
  await kubectl(['apply', '-f', '-'], docs.join('\n---\n'));
  const readyAt = new Map<string, number>();
  while (readyAt.size < N && Date.now() - t0 < 300_000) {
    const list = (await custom.listNamespacedCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', namespace: 'bench', plural: 'teammembers' })) as { items: { metadata: { name: string }; status?: { conditions?: { type: string; status: string }[] } }[] };
    const now = Date.now();
    for (const m of list.items) {
      if (!readyAt.has(m.metadata.name) && m.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) readyAt.set(m.metadata.name, now - t0);
    }
    await pause(50);
  }
  while (!op.queue.idle(2_000)) await pause(50);
  const after = emu.counters();
  const provisioning = callsBetween(before, after);
  const idle0 = emu.counters();
  await op.sync();
  await pause(200);
  while (!op.queue.idle(2_000)) await pause(50);
  const idle = callsBetween(idle0, emu.counters());

  const lat = [...readyAt.values()].toSorted((a, b) => a - b);
  const pct = (p: number) => percentile(lat, p);
  const total = Object.values(provisioning).reduce((a, b) => a + b, 0);
  const out = [
    `members applied at once:        ${N} (ready: ${lat.length})`,
    `apply -> Ready latency:         median ${pct(50)} ms, p99 ${pct(99)} ms, max ${lat.at(-1) ?? NaN} ms`,
    `OpenRouter calls per member:    ${(total / N).toFixed(2)}  (${Object.entries(provisioning).map(([r, n]) => `${r}: ${n}`).join(', ')})`,
    `calls per idle usage sync:      ${Object.values(idle).reduce((a, b) => a + b, 0)}  (${Object.entries(idle).map(([r, n]) => `${r}: ${n}`).join(', ') || 'none'}) for ${N} members`,
  ];
  out.unshift(`OpenRouter rate limit:          ${cfg.rateLimitPerSecond}/s, burst ${cfg.rateLimitBurst}`);
  process.stdout.write(`${out.join('\n')}\n`);
});
