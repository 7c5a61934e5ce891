/**
 * A whole local Kubernetes cluster for tests, the demo and the bench, every part a real binary built from the
 * pinned modules (hack/controlplane-bins.sh): etcd, kube-apiserver, kube-controller-manager (garbage collection,
 * namespace deletion, Deployments, ServiceAccounts and their tokens), kube-scheduler, and kwok, which plays the
 * kubelet of a few fake nodes so scheduled pods become Running and Ready without containers.
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Agent, request } from 'undici';
import { readClient, writeCerts, writeKubeconfig } from './certs.ts';
import { alive, freePort, launch, stopProcess, waitFor } from './processes.ts';
import { FAKE_NODES, fakeNode, nodesReady } from './nodes.ts';

export { freePort } from './processes.ts';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');

/** Component names in start order; they stop in reverse. */
const COMPONENTS = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok'] as const;
export type Component = (typeof COMPONENTS)[number];
type Pids = Record<Component, number>;

export interface ControlPlane {
  dir: string;
  server: string;
  kubeconfigPath: string;
  binDir: string;
  pids: Pids;
  /** names of the fake nodes kwok keeps Ready */
  nodes: string[];
  /**
   * An outage: stops etcd or kube-apiserver (SIGTERM), keeps it down for `downMs`, then starts it again with the
   * same flags, ports and data, and resolves once it is healthy.
   */
  outage(c: 'etcd' | 'kube-apiserver', downMs: number): Promise<void>;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** where the data, certificates, logs and kubeconfigs go; a fresh temp dir by default */
  dir?: string;
  /** keep the processes running after this Node process exits (make cluster-up, make demo) */
  detached?: boolean;
  readyTimeoutMs?: number;
  attempts?: number;
  /** etcd and kube-apiserver only (the envtest shape): for a test that needs a cluster of its own, quickly */
  apiOnly?: boolean;
}

/** Builds the binaries when the cache misses (see hack/controlplane-bins.sh) and returns their directory. */
export async function controlPlaneBins(): Promise<string> {
  const { stdout } = await run('bash', [join(ROOT, 'hack/controlplane-bins.sh')], { maxBuffer: 1 << 24 });
  return stdout.trim().split('\n').pop() ?? '';
}

/** HTTPS to the API server as admin. */
class Admin {
  private readonly agent: Agent;
  private readonly server: string;
  constructor(server: string, tls: { ca: string; cert: string; key: string }) {
    this.server = server;
    this.agent = new Agent({ connect: tls });
  }
  async call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
    const r = await request(`${this.server}${path}`, {
      method, dispatcher: this.agent,
      ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    });
    const text = await r.body.text();
    return { status: r.statusCode, json: text.startsWith('{') ? JSON.parse(text) : text };
  }
  async ok(path: string): Promise<boolean> {
    return (await this.call('GET', path)).status === 200;
  }
  close(): Promise<void> {
    return this.agent.close();
  }
}

/** A component's own health endpoint; its serving certificate is self-signed, so the probe does not verify it. */
const insecure = new Agent({ connect: { rejectUnauthorized: false } });
async function healthy(url: string): Promise<boolean> {
  const r = await request(url, { dispatcher: url.startsWith('https') ? insecure : undefined });
  await r.body.dump();
  return r.statusCode === 200;
}

async function startOnce(binDir: string, dir: string, opts: StartOptions): Promise<ControlPlane> {
  const detached = opts.detached ?? false;
  const timeout = opts.readyTimeoutMs ?? 120_000;
  const started: Partial<Record<Component, ChildProcess>> = {};
  const pids = (): Pids => Object.fromEntries(COMPONENTS.map((c) => [c, started[c]?.pid ?? 0])) as Pids;
  const stopAll = async () => {
    for (const c of COMPONENTS.toReversed()) {
      const pid = started[c]?.pid;
      if (pid) await stopProcess(pid);
    }
  };
  const argsOf: Partial<Record<Component, string[]>> = {};
  const start = async (c: Component, args: string[]) => {
    argsOf[c] = args;
    started[c] = await launch(join(binDir, c), args, join(dir, `${c}.log`), detached);
    return started[c];
  };
  try {
    const [clientPort, peerPort, securePort, kcmPort, schedPort, kwokPort] = await Promise.all(Array.from({ length: 6 }, freePort));
    const etcdUrl = `http://127.0.0.1:${clientPort}`;
    const etcd = await start('etcd', [
      '--name=default', `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`, `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${peerPort}`, `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-cluster=default=http://127.0.0.1:${peerPort}`, '--unsafe-no-fsync=true', '--log-level=warn',
    ]);
    await writeCerts(dir);
    await waitFor('etcd', timeout, etcd, () => healthy(`${etcdUrl}/health`));
    const server = `https://127.0.0.1:${securePort}`;
    const f = (name: string) => join(dir, name);
    const api = await start('kube-apiserver', [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1', '--advertise-address=127.0.0.1', `--secure-port=${securePort}`,
      `--cert-dir=${dir}`, `--tls-cert-file=${f('apiserver.crt')}`, `--tls-private-key-file=${f('apiserver.key')}`,
      `--client-ca-file=${f('ca.crt')}`, '--authorization-mode=Node,RBAC',
      `--service-account-issuer=${server}/`, `--service-account-key-file=${f('sa.pub')}`,
      `--service-account-signing-key-file=${f('sa.key')}`, '--service-cluster-ip-range=10.0.0.0/24',
      '--allow-privileged=true', '--v=0',
    ]);
    const admin = new Admin(server, await readClient(dir, 'admin'));
    const outage = async (c: 'etcd' | 'kube-apiserver', downMs: number) => {
      const pid = started[c]?.pid;
      if (pid) await stopProcess(pid);
      await sleep(downMs);
      const child = await start(c, argsOf[c] ?? []);
      await writeFile(join(dir, 'pids.json'), JSON.stringify(pids()));
      if (c === 'etcd') return waitFor('etcd', timeout, child, () => healthy(`${etcdUrl}/health`));
      const probe = new Admin(server, await readClient(dir, 'admin'));
      try {
        await waitFor('kube-apiserver', timeout, child, () => probe.ok('/readyz'));
      } finally {
        await probe.close();
      }
    };
    try {
      await waitFor('kube-apiserver', timeout, api, () => admin.ok('/readyz'));
      await waitFor('namespace default', timeout, api, () => admin.ok('/api/v1/namespaces/default'));
      const kubeconfigPath = await writeKubeconfig(dir, server, 'admin');
      if (opts.apiOnly) {
        const few = pids();
        await writeFile(join(dir, 'pids.json'), JSON.stringify(few));
        return { dir, server, kubeconfigPath, binDir, get pids() { return pids(); }, nodes: [], outage, stop: () => stopPids(pids()) };
      }
      const kcmConfig = await writeKubeconfig(dir, server, 'kube-controller-manager');
      const schedConfig = await writeKubeconfig(dir, server, 'kube-scheduler');
      const kwokConfig = await writeKubeconfig(dir, server, 'kwok');
      const authn = (kc: string) => [`--kubeconfig=${kc}`, `--authentication-kubeconfig=${kc}`, `--authorization-kubeconfig=${kc}`];
      const kcm = await start('kube-controller-manager', [
        ...authn(kcmConfig), '--bind-address=127.0.0.1', `--secure-port=${kcmPort}`, `--cert-dir=${f('kcm-serving')}`,
        '--leader-elect=false', '--use-service-account-credentials=true',
        `--service-account-private-key-file=${f('sa.key')}`, `--root-ca-file=${f('ca.crt')}`,
        '--service-cluster-ip-range=10.0.0.0/24', '--cluster-name=teamkeys-test', '--v=0',
      ]);
      const sched = await start('kube-scheduler', [
        ...authn(schedConfig), '--bind-address=127.0.0.1', `--secure-port=${schedPort}`, `--cert-dir=${f('scheduler-serving')}`,
        '--leader-elect=false', '--v=0',
      ]);
      const kwok = await start('kwok', [
        `--kubeconfig=${kwokConfig}`, `--config=${join(binDir, 'kwok-stages.yaml')}`,
        '--manage-all-nodes=false', '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
        // pods annotated kwok.x-k8s.io/status=custom are left Pending and unready: a rollout that never completes
        '--disregard-status-with-annotation-selector=kwok.x-k8s.io/status=custom',
        '--node-lease-duration-seconds=40', '--cidr=10.244.0.0/16', '--node-ip=10.0.2.1',
        `--server-address=127.0.0.1:${kwokPort}`,
      ]);
      await Promise.all([
        waitFor('kube-controller-manager', timeout, kcm, () => healthy(`https://127.0.0.1:${kcmPort}/healthz`)),
        waitFor('kube-scheduler', timeout, sched, () => healthy(`https://127.0.0.1:${schedPort}/healthz`)),
        waitFor('kwok', timeout, kwok, () => healthy(`http://127.0.0.1:${kwokPort}/healthz`)),
      ]);
      for (const name of FAKE_NODES) {
        const r = await admin.call('POST', '/api/v1/nodes', fakeNode(name));
        if (r.status !== 201) throw new Error(`creating node ${name}: ${r.status} ${JSON.stringify(r.json)}`);
      }
      await waitFor('fake nodes Ready', timeout, kwok, async () => nodesReady((await admin.call('GET', '/api/v1/nodes')).json, FAKE_NODES));
      // the ServiceAccount controller runs: pods in `default` can be admitted
      await waitFor('ServiceAccount default/default', timeout, kcm, () => admin.ok('/api/v1/namespaces/default/serviceaccounts/default'));
      await writeFile(join(dir, 'pids.json'), JSON.stringify(pids()));
      return { dir, server, kubeconfigPath, binDir, get pids() { return pids(); }, nodes: [...FAKE_NODES], outage, stop: () => stopPids(pids()) };
    } finally {
      await admin.close();
    }
  } catch (e) {
    await stopAll();
    throw e;
  }
}

async function stopPids(pids: Pids): Promise<void> {
  for (const c of COMPONENTS.toReversed()) if (pids[c]) await stopProcess(pids[c]);
}

/** Starts the whole cluster; retries the whole start (fresh ports) when a port race or slow start bites. */
export async function startControlPlane(opts: StartOptions = {}): Promise<ControlPlane> {
  const binDir = await controlPlaneBins();
  const attempts = opts.attempts ?? 3;
  let last: unknown;
  for (let i = 1; i <= attempts; i++) {
    const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'teamkeys-cp-')));
    await rm(join(dir, 'etcd'), { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    try {
      return await startOnce(binDir, dir, opts);
    } catch (e) {
      last = e;
      process.stderr.write(`control plane start attempt ${i}/${attempts} failed: ${String(e)} (logs in ${dir})\n`);
    }
  }
  throw last instanceof Error ? last : new Error(String(last));
}

/** Stops a detached cluster started earlier in `dir` (make cluster-down, make demo-down). */
export async function stopControlPlaneIn(dir: string): Promise<boolean> {
  let pids: Partial<Pids>;
  try {
    pids = JSON.parse(await readFile(join(dir, 'pids.json'), 'utf8')) as Partial<Pids>;
  } catch {
    return false;
  }
  await stopPids(Object.fromEntries(COMPONENTS.map((c) => [c, pids[c] ?? 0])) as Pids);
  await rm(join(dir, 'pids.json'), { force: true });
  return true;
}

/** Whether every process of a cluster started in `dir` is still running. */
export async function runningIn(dir: string): Promise<boolean> {
  try {
    const pids = JSON.parse(await readFile(join(dir, 'pids.json'), 'utf8')) as Partial<Pids>;
    return COMPONENTS.every((c) => pids[c] !== undefined && alive(pids[c]));
  } catch {
    return false;
  }
}
