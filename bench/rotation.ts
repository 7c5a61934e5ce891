/**
 * `make bench-rotation`: rotations on demand against the whole local cluster and the emulator. Prints, per case,
 * annotation -> new key in the Secret and annotation -> previous key disabled (median, max), and OpenRouter calls
 * per rotation: (a) no workload, overlap 0s (the whole sequence at once); (b) a 3-replica Deployment that reads
 * the key from its environment and opted in, overlap 1h (the previous key goes when the rollout completes).
 */
import { AppsV1Api } from '@kubernetes/client-node';
import { apiClient } from '../src/kube/pool.ts';
import { callsBetween, pause, percentile, withBench } from './setup.ts';
import { aMember, aPolicy, toYaml } from '../test/kit/objects.ts';

const N = Number(process.env['BENCH_ROTATIONS'] ?? 10);

interface Status { key?: { hash: string }; rotation?: { count: number }; pendingKey?: unknown }

await withBench(async ({ kc, custom, emu, kubectl }) => {
  const apps = apiClient(kc, AppsV1Api);
  const read = async (name: string) => ((await custom.getNamespacedCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', namespace: 'bench', plural: 'teammembers', name })) as { status?: Status }).status ?? {};
  const lines: string[] = [];
  for (const c of [{ name: 'plain', overlap: '0s', deployment: false }, { name: 'deploy', overlap: '1h', deployment: true }]) {
    await kubectl(['apply', '-f', '-'], toYaml(aPolicy(c.name, { budget: { limitUSD: 5 }, rotation: { overlap: c.overlap } })));
    const members = Array.from({ length: N }, (_, i) => `${c.name}${i}`);
    await kubectl(['apply', '-f', '-'], toYaml(members.map((m) => aMember('bench', m, c.name))));
    for (const m of members) while (!(await read(m)).key) await pause(50);
    if (c.deployment) {
      for (const m of members) {
        await apps.createNamespacedDeployment({ namespace: 'bench', body: {
          metadata: { name: m, labels: { 'teamkeys.dev/restart-on-rotation': 'true' } },
          spec: { replicas: 3, selector: { matchLabels: { app: m } }, template: { metadata: { labels: { app: m } }, spec: { containers: [{ name: 'app', image: 'registry.invalid/app:1', envFrom: [{ secretRef: { name: `${m}-openrouter` } }] }] } } },
        } });
      }
      for (const m of members) while ((await apps.readNamespacedDeployment({ namespace: 'bench', name: m })).metadata?.annotations?.['teamkeys.dev/key-generations'] === undefined) await pause(50);
    }
    const old = new Map<string, string>();
    for (const m of members) old.set(m, (await read(m)).key?.hash ?? '');
    const before = emu.counters();
    const switched: number[] = [];
    const retired: number[] = [];
    // one at a time, so each latency is the operator's alone
    for (const m of members) {
      const t0 = Date.now();
      await kubectl(['annotate', 'tm', m, '-n', 'bench', 'teamkeys.dev/rotate=bench']);
      let s = await read(m);
      while (!((s.rotation?.count ?? 0) >= 1 && !s.pendingKey)) {
        await pause(20);
        s = await read(m);
      }
      switched.push(Date.now() - t0);
      const hash = old.get(m) ?? '';
      while (!emu.store.state.keys.find((k) => k.hash === hash)?.disabled) await pause(20);
      retired.push(Date.now() - t0);
    }
    const calls = callsBetween(before, emu.counters());
    const total = Object.values(calls).reduce((a, b) => a + b, 0);
    const sorted = (l: number[]) => l.toSorted((a, b) => a - b);
    lines.push(
      `${c.deployment ? '3-replica Deployment, opted in, overlap 1h' : 'no workload, overlap 0s'} (${N} rotations):`,
      `  annotation -> new key in the Secret:   median ${percentile(sorted(switched), 50)} ms, max ${Math.max(...switched)} ms`,
      `  annotation -> previous key disabled:   median ${percentile(sorted(retired), 50)} ms, max ${Math.max(...retired)} ms`,
      `  OpenRouter calls per rotation:         ${(total / N).toFixed(2)}  (${Object.entries(calls).map(([r, k]) => `${r}: ${k}`).join(', ')})`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
});
