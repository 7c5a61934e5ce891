/** What every benchmark starts from: the whole local cluster, the CRDs, the emulator and a running operator. */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { GROUP, VERSION } from '../src/api/schema.ts';
import { pino } from 'pino';
import { loadConfig, type Config } from '../src/config.ts';
import { Emulator } from '../src/emulator/server.ts';
import { apiClient } from '../src/kube/pool.ts';
import { newSecret } from '../src/emulator/state.ts';
import { Operator } from '../src/operator.ts';
import { systemClock } from '../src/util/clock.ts';
import { freePort, startControlPlane, type ControlPlane } from '../test/controlplane/controlplane.ts';
import { startOperatorProcess, type OperatorProcess } from '../test/integration/process.ts';
import { metricSum, type ReadyClock } from './measure.ts';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..');

export type Counters = ReturnType<Emulator['counters']>;

/** Calls per route between two counter snapshots (the management key check left out). */
export function callsBetween(a: Counters, b: Counters): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [route, byStatus] of Object.entries(b)) {
    const n = Object.values(byStatus).reduce((x, y) => x + y, 0) - Object.values(a[route] ?? {}).reduce((x, y) => x + y, 0);
    if (n > 0 && route !== 'GET /api/v1/key') out[route] = n;
  }
  return out;
}

export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

export const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

export type Kubectl = (args: string[], input?: string) => Promise<{ stdout: string }>;

/** A fresh whole local cluster with the CRDs installed and established, kubectl for it, and its KubeConfig. */
export async function benchCluster(): Promise<{ cp: ControlPlane; kubectl: Kubectl; kc: KubeConfig }> {
  const cp = await startControlPlane();
  const kubectl: Kubectl = (args, input) => {
    const p = run(join(cp.binDir, 'kubectl'), ['--kubeconfig', cp.kubeconfigPath, ...args], { maxBuffer: 1 << 28 });
    if (input !== undefined) p.child.stdin?.end(input);
    return p;
  };
  try {
    await kubectl(['apply', '-k', join(ROOT, 'crds')]);
    await kubectl(['wait', '--for=condition=Established', 'crd', '--all', '--timeout=60s']);
  } catch (e) {
    await cp.stop();
    throw e;
  }
  const kc = new KubeConfig();
  kc.loadFromFile(cp.kubeconfigPath);
  return { cp, kubectl, kc };
}

/** Runs `body` against a fresh cluster, emulator and operator (namespace `bench`), and tears them down. */
export async function withBench(body: (b: { kc: KubeConfig; core: CoreV1Api; custom: CustomObjectsApi; emu: Emulator; op: Operator; cfg: Config; kubectl: Kubectl }) => Promise<void>): Promise<void> {
  const { cp, kubectl, kc } = await benchCluster();
  try {
    const core = apiClient(kc, CoreV1Api);
    const custom = apiClient(kc, CustomObjectsApi);
    const mk = newSecret();
    const emu = new Emulator({ managementKeys: [mk] });
    const url = await emu.start();
    await core.createNamespace({ body: { metadata: { name: 'teamkeys-system' } } });
    await core.createNamespace({ body: { metadata: { name: 'bench' } } });
    await core.createNamespacedSecret({ namespace: 'teamkeys-system', body: { metadata: { name: 'teamkeys-management-key' }, stringData: { apiKey: mk } } });
    const cfg = loadConfig([], { ...process.env, KUBECONFIG: undefined, TEAMKEYS_OPENROUTER_URL: `${url}/api/v1`, TEAMKEYS_MIN_SYNC_INTERVAL: '1h', POD_NAME: 'bench' });
    const op = new Operator(cfg, kc, systemClock, pino({ level: 'warn' }, new Writable({ write: (_c, _e, cb) => cb() })));
    await op.start();
    while (!op.ready) await pause(50);
    await body({ kc, core, custom, emu, op, cfg, kubectl });
    await op.stop();
    await emu.stop();
  } finally {
    await cp.stop();
  }
}

/** The image's Node flags and the Deployment's heap cap (Dockerfile, deploy/deployment.yaml). */
export const IMAGE_NODE_ARGS = '--max-semi-space-size=2 --optimize-for-size --max-old-space-size=160';
/** Node flags the operator runs with: the image's and the Deployment's, unless BENCH_NODE_ARGS says otherwise. */
export const operatorNodeArgs = (): string[] => (process.env['BENCH_NODE_ARGS'] ?? IMAGE_NODE_ARGS).split(' ').filter(Boolean);

/** The image's malloc settings (Dockerfile); each may be set otherwise in the bench's environment. */
const IMAGE_MALLOC = { MALLOC_ARENA_MAX: '1', MALLOC_TRIM_THRESHOLD_: '131072', MALLOC_MMAP_THRESHOLD_: '32768' };
export const imageMalloc = (): Record<string, string> => Object.fromEntries(Object.entries(IMAGE_MALLOC).map(([k, v]) => [k, process.env[k] ?? v]));

export interface BenchOperator {
  op: OperatorProcess;
  metrics: () => Promise<string>;
}

/**
 * The operator as its own process from the built dist/ (as the image runs it, with the image's malloc settings),
 * returned once it reports ready.
 */
export async function startBenchOperator(env: Record<string, string>): Promise<BenchOperator> {
  const port = await freePort();
  const op = startOperatorProcess('bench', { ...imageMalloc(), ...env, TEAMKEYS_METRICS_PORT: String(port) }, { entry: join(ROOT, 'dist/main.js'), nodeArgs: operatorNodeArgs() });
  const metrics = async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  while (!/^teamkeys_ready 1$/m.test(await metrics().catch(() => ''))) {
    if (op.child.exitCode !== null) throw new Error(`the operator exited: ${op.logs.join('').slice(-2000)}`);
    await pause(100);
  }
  return { op, metrics };
}

/** The policy's own count of its Ready members (its status, written at most once a second): one cheap GET. */
export async function policyReadyMembers(custom: CustomObjectsApi, policy: string): Promise<number> {
  const p = (await custom.getClusterCustomObject({ group: GROUP, version: VERSION, plural: 'keypolicies', name: policy })) as { status?: { readyMembers?: number } };
  return p.status?.readyMembers ?? 0;
}

/**
 * Waits for every member to be Ready (30 min at most). A hint (the policy's count) only says when to look; the
 * figures come from listing the members. Listing 10,000 members on every tick would load the API server the run
 * measures, so without the hint it lists every 30 s. (The hint was once the operator's metrics, read every second:
 * at 10,000 members a scrape renders every member's series, 8 MB taking 3 s of the operator's CPU, so the bench
 * was measuring its own scrapes.) The figures are the stored Ready times, not when it looks.
 */
export async function allReady(clock: ReadyClock, n: number, hint: () => Promise<number>): Promise<void> {
  const deadline = performance.now() + 30 * 60_000;
  let listed = performance.now();
  while (performance.now() < deadline) {
    const h = await hint().catch(() => 0);
    if (h >= n || performance.now() - listed > 30_000) {
      listed = performance.now();
      if ((await clock.collect()) >= n) return;
    }
    await pause(h >= n ? 200 : 1_000);
  }
}

/** Waits until the operator has converged: its queue empty and nothing reconciled for 3 s. */
export async function converged(metrics: () => Promise<string>): Promise<void> {
  let last = -1;
  for (;;) {
    const text = await metrics();
    const done = metricSum(text, 'teamkeys_reconcile_total');
    if (metricSum(text, 'teamkeys_queue_depth') === 0 && done === last && done > 0) return;
    last = done;
    await pause(3_000);
  }
}
