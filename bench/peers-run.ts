/**
 * One peer's run, the same steps for every peer: its own user and namespaces, its process started and warmed up on
 * one object, N objects created by a tight client (32 in flight), apply->Ready from each object's stored Ready
 * condition, then every object deleted and waited for, and what the peer left enabled at OpenRouter.
 */
import { loadavg } from 'node:os';
import type { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import type { Emulator } from '../src/emulator/server.ts';
import type { ControlPlane } from '../test/controlplane/controlplane.ts';
import { inParallel } from './baselines.ts';
import { procStats, type ReadyClock } from './measure.ts';
import { conditionClock, type Kind } from './peers-clock.ts';
import { minus, peerIdentity, requestsOf, type RequestCount } from './peers-kube.ts';
import { callsBetween, pause, percentile, type Counters, type Kubectl } from './setup.ts';

export interface Running {
  pid: number;
  /** how many of the namespace's objects the peer itself says are Ready: only a hint for when to list */
  readyHint(namespace: string): Promise<number>;
  stop(): Promise<void>;
}

export interface Peer {
  label: string;
  /** its Kubernetes user, and the prefix of its namespaces */
  id: string;
  kind: Kind;
  /** objects a namespace needs before its members (a policy, a generator and its Secret) */
  prepare(namespace: string): Promise<void>;
  start(kubeconfigPath: string): Promise<Running>;
  create(namespace: string, name: string): Promise<unknown>;
}

export interface PeerResult {
  peer: string;
  members: number;
  ready: number;
  createdPerSecond: number;
  /** N over first create -> last stored Ready (ESO's whole-second stamps make this meaningless for a burst of a second) */
  membersPerSecond: number;
  /** from each object's stored Ready condition (ESO's: whole seconds, so 0-1 s early) */
  readyMs: { p50: number; p95: number; p99: number; max: number };
  /** requests the API server let through for the peer's user, per member, while provisioning and while deleting */
  kubernetesPerMember: RequestCount;
  kubernetesPerMemberOnDelete: RequestCount;
  openrouterCallsPerMember: number;
  openrouterCallsPerMemberOnDelete: number;
  openrouterCalls: Record<string, number>;
  keysCreated: number;
  /** keys created in the run still enabled at OpenRouter once every member is gone */
  keysLeftEnabled: number;
  /** until every member is gone; then until their Secrets are gone too (the garbage collector's part) */
  deleteSeconds: number;
  secretsGoneSeconds: number;
  /** the machine's 1-minute load average as the members became Ready (2 cores, shared) */
  loadAverage: number;
  rssPeakMB: number;
  rssFinalMB: number;
  cpuSeconds: number;
}

export interface World { cp: ControlPlane; kubectl: Kubectl; core: CoreV1Api; custom: CustomObjectsApi; emu: Emulator }

const say = (s: string) => process.stderr.write(`[bench-peers] ${s}\n`);

const quantiles = (lat: number[]) => {
  const s = lat.toSorted((a, b) => a - b);
  return { p50: percentile(s, 50), p95: percentile(s, 95), p99: percentile(s, 99), max: s.at(-1) ?? Number.NaN };
};

/** Lists when the peer's hint says all may be Ready, else every 15 s; gives up after 3 minutes without progress. */
async function allReady(clock: ReadyClock, n: number, hint: () => Promise<number>): Promise<number> {
  let listed = 0;
  let seen = -1;
  let progressed = performance.now();
  for (;;) {
    const h = await hint().catch(() => 0);
    if (h >= n || performance.now() - listed > 15_000) {
      listed = performance.now();
      const got = await clock.collect();
      if (got >= n) return got;
      if (got > seen) [seen, progressed] = [got, performance.now()];
      if (performance.now() - progressed > 180_000) return got;
    }
    await pause(h >= n ? 300 : 1_000);
  }
}

/** Waits until the peer's requests stop moving (3 s without one; 60 s at most): its last writes are counted. */
async function settle(kubectl: Kubectl, user: string): Promise<RequestCount> {
  let last = await requestsOf(kubectl, user);
  for (let i = 0; i < 20; i++) {
    await pause(3_000);
    const now = await requestsOf(kubectl, user);
    if (now.writes === last.writes && now.reads === last.reads) return now;
    last = now;
  }
  return last;
}

const mb = (b: number) => b / 2 ** 20;
const management = (calls: Record<string, number>) => Object.entries(calls).filter(([r]) => r.includes('/api/v1/') && !r.includes('/chat/')).reduce((s, [, v]) => s + v, 0);
const perMember = (c: RequestCount, n: number): RequestCount => ({ writes: c.writes / n, reads: c.reads / n });

export async function runPeer({ cp, kubectl, core, custom, emu }: World, peer: Peer, n: number): Promise<PeerResult> {
  const { id, kind } = peer;
  const identity = await peerIdentity(cp, kubectl, id);
  const [ns, warm] = [id, `${id}-warmup`];
  for (const namespace of [ns, warm]) await peer.prepare(namespace);
  const proc = await peer.start(identity.kubeconfigPath);
  let peak = 0;
  const sample = async () => (peak = Math.max(peak, (await procStats(proc.pid).catch(() => ({ rssBytes: 0 }))).rssBytes));
  const sampler = setInterval(() => void sample(), 500);
  try {
    // warm-up (caches, connections, the first generation): the run must not measure the process's start
    const warmClock = conditionClock(custom, kind, warm);
    await peer.create(warm, 'warmup');
    const warmDeadline = performance.now() + 120_000;
    while ((await warmClock.collect()) < 1) {
      if (performance.now() > warmDeadline) throw new Error(`${peer.label}: the warm-up object was not Ready within 2 minutes`);
      await pause(200);
    }
    const k0 = await settle(kubectl, id);
    if (k0.reads === 0) say(`${id}: no request counted under its FlowSchemas: the counts below are not the peer's`);
    const c0: Counters = emu.counters();
    const keysBefore = new Set(emu.store.listKeys({ includeDisabled: true }).map((k) => k.hash));
    const cpu0 = (await procStats(proc.pid)).cpuSeconds;
    say(`${peer.label}: creating ${n}`);
    const clock = conditionClock(custom, kind, ns);
    const started = performance.now();
    await inParallel(n, 32, async (i) => {
      await peer.create(ns, `m${i}`);
      clock.created(`m${i}`);
    });
    const createdPerSecond = (n / (performance.now() - started)) * 1000;
    const ready = await allReady(clock, n, () => proc.readyHint(ns));
    const loadAverage = loadavg()[0] ?? 0;
    const k1 = await settle(kubectl, id);
    const c1 = emu.counters();
    const cpu1 = (await procStats(proc.pid)).cpuSeconds;
    const membersPerSecond = (n / Math.max((clock.lastReady() ?? 0) - (clock.firstCreated() ?? 0), 1)) * 1000;
    say(`${peer.label}: ${ready}/${n} Ready, ${membersPerSecond.toFixed(1)} members/s; deleting`);
    const deleting = performance.now();
    await custom.deleteCollectionNamespacedCustomObject({ ...kind, namespace: ns });
    while ((await clock.count()) > 0 && performance.now() - deleting < 15 * 60_000) await pause(1_000);
    const deleteSeconds = (performance.now() - deleting) / 1000;
    // the next peer must not run beside the garbage collector's deletes
    const secrets = async () => (await core.listNamespacedSecret({ namespace: ns })).items.filter((x) => x.metadata?.name?.endsWith('-openrouter')).length;
    while ((await secrets()) > 0 && performance.now() - deleting < 15 * 60_000) await pause(1_000);
    const secretsGoneSeconds = (performance.now() - deleting) / 1000;
    const k2 = await settle(kubectl, id);
    const c2 = emu.counters();
    await sample();
    const rssFinal = (await procStats(proc.pid)).rssBytes;
    const calls = callsBetween(c0, c1);
    const created = (a: Counters, b: Counters) => (b['POST /api/v1/keys']?.['201'] ?? 0) - (a['POST /api/v1/keys']?.['201'] ?? 0);
    return {
      peer: peer.label, members: n, ready, createdPerSecond,
      membersPerSecond, readyMs: quantiles(clock.latencies()),
      kubernetesPerMember: perMember(minus(k1, k0), n),
      kubernetesPerMemberOnDelete: perMember(minus(k2, k1), n),
      openrouterCallsPerMember: management(calls) / n,
      openrouterCallsPerMemberOnDelete: management(callsBetween(c1, c2)) / n,
      openrouterCalls: calls,
      keysCreated: created(c0, c2),
      keysLeftEnabled: emu.store.listKeys({ includeDisabled: false }).filter((k) => !keysBefore.has(k.hash)).length,
      deleteSeconds, secretsGoneSeconds, loadAverage, rssPeakMB: mb(peak), rssFinalMB: mb(rssFinal), cpuSeconds: cpu1 - cpu0,
    };
  } finally {
    clearInterval(sampler);
    await proc.stop();
  }
}
