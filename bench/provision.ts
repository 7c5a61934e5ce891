/**
 * `make bench`: 100 TeamMembers applied at once against the whole local cluster and the emulator. Prints
 * apply->Ready latency (median, p99), OpenRouter calls per member provisioned, and calls per idle usage sync.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { loadConfig } from '../src/config.ts';
import { Emulator } from '../src/emulator/server.ts';
import { newSecret } from '../src/emulator/state.ts';
import { Operator } from '../src/operator.ts';
import { systemClock } from '../src/util/clock.ts';
import { startControlPlane } from '../test/controlplane/controlplane.ts';

const run = promisify(execFile);
const N = Number(process.env['BENCH_MEMBERS'] ?? 100);
const ROOT = join(import.meta.dirname, '..');

const cp = await startControlPlane();
const kubectl = (args: string[], input?: string) => {
  const p = run(join(cp.binDir, 'kubectl'), ['--kubeconfig', cp.kubeconfigPath, ...args], { maxBuffer: 1 << 26 });
  if (input !== undefined) p.child.stdin?.end(input);
  return p;
};
try {
  await kubectl(['apply', '-k', join(ROOT, 'crds')]);
  await kubectl(['wait', '--for=condition=Established', 'crd', '--all', '--timeout=60s']);
  const kc = new KubeConfig();
  kc.loadFromFile(cp.kubeconfigPath);
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const mk = newSecret();
  const emu = new Emulator({ managementKeys: [mk] });
  const url = await emu.start();
  await core.createNamespace({ body: { metadata: { name: 'teamkeys-system' } } });
  await core.createNamespace({ body: { metadata: { name: 'bench' } } });
  await core.createNamespacedSecret({ namespace: 'teamkeys-system', body: { metadata: { name: 'teamkeys-management-key' }, stringData: { apiKey: mk } } });
  const cfg = loadConfig([], { ...process.env, KUBECONFIG: undefined, TEAMKEYS_OPENROUTER_URL: `${url}/api/v1`, TEAMKEYS_MIN_SYNC_INTERVAL: '1h', POD_NAME: 'bench' });
  const op = new Operator(cfg, kc, systemClock, pino({ level: 'warn' }, new Writable({ write: (_c, _e, cb) => cb() })));
  await op.start();
  while (!op.ready) await new Promise((r) => setTimeout(r, 50));
  await kubectl(['apply', '-f', '-'], 'apiVersion: teamkeys.dev/v1alpha1\nkind: KeyPolicy\nmetadata: {name: bench}\nspec:\n  budget: {limitUSD: 5}\n');
  await new Promise((r) => setTimeout(r, 500));
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
    await new Promise((r) => setTimeout(r, 50));
  }
  while (!op.queue.idle(2_000)) await new Promise((r) => setTimeout(r, 50));
  const after = emu.counters();
  const diff = (a: typeof before, b: typeof before) => {
    const out: Record<string, number> = {};
    for (const [route, byStatus] of Object.entries(b)) {
      const n = Object.values(byStatus).reduce((x, y) => x + y, 0) - Object.values(a[route] ?? {}).reduce((x, y) => x + y, 0);
      if (n > 0 && !route.startsWith('GET /api/v1/key ') && route !== 'GET /api/v1/key') out[route] = n;
    }
    return out;
  };
  const provisioning = diff(before, after);
  const idle0 = emu.counters();
  await op.sync();
  await new Promise((r) => setTimeout(r, 200));
  while (!op.queue.idle(2_000)) await new Promise((r) => setTimeout(r, 50));
  const idle = diff(idle0, emu.counters());

  const lat = [...readyAt.values()].toSorted((a, b) => a - b);
  const pct = (p: number) => lat[Math.min(lat.length - 1, Math.ceil((p / 100) * lat.length) - 1)] ?? NaN;
  const total = Object.values(provisioning).reduce((a, b) => a + b, 0);
  const out = [
    `members applied at once:        ${N} (ready: ${lat.length})`,
    `apply -> Ready latency:         median ${pct(50)} ms, p99 ${pct(99)} ms, max ${lat.at(-1) ?? NaN} ms`,
    `OpenRouter calls per member:    ${(total / N).toFixed(2)}  (${Object.entries(provisioning).map(([r, n]) => `${r}: ${n}`).join(', ')})`,
    `calls per idle usage sync:      ${Object.values(idle).reduce((a, b) => a + b, 0)}  (${Object.entries(idle).map(([r, n]) => `${r}: ${n}`).join(', ') || 'none'}) for ${N} members`,
  ];
  out.unshift(`OpenRouter rate limit:          ${cfg.rateLimitPerSecond}/s, burst ${cfg.rateLimitBurst}`);
  process.stdout.write(`${out.join('\n')}\n`);
  await op.stop();
  await emu.stop();
} finally {
  await cp.stop();
}
