/** What every benchmark starts from: the whole local cluster, the CRDs, the emulator and a running operator. */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { loadConfig, type Config } from '../src/config.ts';
import { Emulator } from '../src/emulator/server.ts';
import { apiClient } from '../src/kube/pool.ts';
import { newSecret } from '../src/emulator/state.ts';
import { Operator } from '../src/operator.ts';
import { systemClock } from '../src/util/clock.ts';
import { startControlPlane, type ControlPlane } from '../test/controlplane/controlplane.ts';

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
