/**
 * The world a fault scenario runs in: a cluster of its own (etcd + kube-apiserver, so either can be taken down
 * without disturbing anything else), the CRDs, the OpenRouter emulator, the operator as real processes (SIGKILL is
 * SIGKILL), a seeded driver playing the users (members created, rotated, suspended, deleted), and the audit that
 * says whether every promise holds once the operator has converged.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, KubeConfig } from '@kubernetes/client-node';
import { ANNOTATION_ROTATE, type TeamMember } from '../../src/api/schema.ts';
import { parseKeyName } from '../../src/controller/keyname.ts';
import { Emulator } from '../../src/emulator/server.ts';
import { digestOf, newSecret } from '../../src/emulator/state.ts';
import { apiClient } from '../../src/kube/pool.ts';
import { startControlPlane, type ControlPlane } from '../controlplane/controlplane.ts';
import { startOperatorProcess, type OperatorProcess } from '../integration/process.ts';
import { IssuedKeys } from '../integration/scan.ts';
import { aMember, aPolicy, toYaml } from '../kit/objects.ts';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '../..');
const MERGE = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
export const CLUSTER_ID = 'chaos';
const NS = 'chaos';
const SYSTEM = 'teamkeys-system';
const POLICY = 'chaos';
const TM = { group: 'teamkeys.dev', version: 'v1alpha1', namespace: NS, plural: 'teammembers' } as const;

/** mulberry32: one seed replays one schedule of faults and user actions */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Audit {
  live: number;
  /** unsuspended members without Ready=True and an enabled key that is the one in their Secret */
  withoutWorkingKey: string[];
  /** keys of this cluster whose member is gone */
  orphans: string[];
  /** enabled keys of a member beyond its current key and the previous ones still inside their overlap (a suspended member: any) */
  doubles: string[];
  /** members still being deleted, or with a key being issued */
  pending: string[];
}

export const clean = (a: Audit) => a.withoutWorkingKey.length + a.orphans.length + a.doubles.length + a.pending.length === 0;

export class World {
  readonly cp: ControlPlane;
  readonly emu: Emulator;
  readonly issued = new IssuedKeys();
  readonly kc: KubeConfig;
  readonly core: CoreV1Api;
  readonly custom: CustomObjectsApi;
  readonly operators: OperatorProcess[] = [];
  private readonly mk = newSecret();
  /** the emulator's request log: route, Host header, status, time */
  readonly emuLog: string[] = [];
  private url = '';
  private started = 0;
  /** every member the driver ever created, and which of them it deleted */
  readonly created = new Set<string>();
  readonly deleted = new Set<string>();

  private constructor(cp: ControlPlane) {
    this.cp = cp;
    const sink = new Writable({ write: (chunk: Buffer, _e, cb) => { this.emuLog.push(chunk.toString()); cb(); } });
    this.emu = new Emulator({ managementKeys: [this.mk], onIssued: this.issued.collect, logger: pino({ level: 'info' }, sink) });
    this.kc = new KubeConfig();
    this.kc.loadFromFile(cp.kubeconfigPath);
    this.core = apiClient(this.kc, CoreV1Api);
    this.custom = apiClient(this.kc, CustomObjectsApi);
  }

  static async start(): Promise<World> {
    const w = new World(await startControlPlane({ apiOnly: true }));
    try {
      await w.prepare();
    } catch (e) {
      await w.stop();
      throw e;
    }
    return w;
  }

  private async prepare(): Promise<void> {
    this.url = await this.emu.start();
    await this.kubectl(['apply', '-k', join(ROOT, 'crds')]);
    await this.kubectl(['wait', '--for=condition=Established', 'crd', '--all', '--timeout=60s']);
    await this.core.createNamespace({ body: { metadata: { name: SYSTEM } } });
    await this.core.createNamespace({ body: { metadata: { name: NS, labels: { 'teamkeys.dev/chaos': 'true' } } } });
    await this.core.createNamespacedSecret({ namespace: SYSTEM, body: { metadata: { name: 'teamkeys-management-key' }, stringData: { apiKey: this.mk } } });
    // a short overlap, so rotations are in flight all through a scenario and over by the audit
    await this.kubectl(['apply', '-f', '-'], toYaml(aPolicy(POLICY, { budget: { limitUSD: 5 }, rotation: { overlap: '15s' }, usage: { syncInterval: '30s' } })));
  }

  async kubectl(args: string[], input?: string): Promise<string> {
    const p = run(join(this.cp.binDir, 'kubectl'), ['--kubeconfig', this.cp.kubeconfigPath, ...args]);
    if (input !== undefined) p.child.stdin?.end(input);
    return (await p).stdout;
  }

  /**
   * One operator replica; with leaderElect, on a 4 s lease so a standby takes over quickly. `kubeconfig`: another
   * way to the API server (through a Partition); `openrouterHost`: the name it calls OpenRouter by, which the
   * emulator's log shows (so two replicas' calls can be told apart).
   */
  startOperator(leaderElect: boolean, o: { kubeconfig?: string; openrouterHost?: string } = {}): OperatorProcess {
    const url = o.openrouterHost ? this.url.replace('127.0.0.1', o.openrouterHost) : this.url;
    const op = startOperatorProcess(`chaos-${this.started++}`, {
      KUBECONFIG: o.kubeconfig ?? this.cp.kubeconfigPath,
      POD_NAMESPACE: SYSTEM,
      TEAMKEYS_CLUSTER_ID: CLUSTER_ID,
      TEAMKEYS_OPENROUTER_URL: `${url}/api/v1`,
      TEAMKEYS_NAMESPACE_SELECTOR: 'teamkeys.dev/chaos=true',
      TEAMKEYS_ORPHAN_GRACE: '1s',
      TEAMKEYS_MIN_SYNC_INTERVAL: '30s',
      TEAMKEYS_CREDENTIALS_INTERVAL: '2s',
      TEAMKEYS_RESTART_WORKLOADS: 'false',
      TEAMKEYS_LEADER_ELECT: String(leaderElect),
      TEAMKEYS_LEASE_DURATION: '4s',
      LOG_LEVEL: process.env['CHAOS_LOG_LEVEL'] ?? 'info',
    });
    this.operators.push(op);
    return op;
  }

  /** The replicas still running. */
  running(): OperatorProcess[] {
    return this.operators.filter((o) => o.child.exitCode === null && o.child.signalCode === null);
  }

  async kill(op: OperatorProcess): Promise<void> {
    op.child.kill('SIGKILL');
    await op.exited;
  }

  /**
   * Plays the users until `until()` says stop: keeps `members` members (creating new ones for those deleted), and
   * meanwhile rotates, suspends, resumes and deletes some. Calls that fail (the API server is down) are simply
   * tried again later.
   */
  async drive(o: { members: number; seed: number; until: () => boolean; pauseMs?: number }): Promise<void> {
    const rnd = prng(o.seed);
    let next = this.created.size;
    const live = () => [...this.created].filter((n) => !this.deleted.has(n));
    const pick = () => live()[Math.floor(rnd() * live().length)];
    while (!o.until()) {
      const r = rnd();
      try {
        if (live().length < o.members && r < 0.5) {
          await this.createMember(`m${next}`);
          next++;
        } else if (r < 0.7) {
          const name = pick();
          if (name) await this.custom.patchNamespacedCustomObject({ ...TM, name, body: { metadata: { annotations: { [ANNOTATION_ROTATE]: new Date().toISOString() } } } }, MERGE);
        } else if (r < 0.9) {
          const name = pick();
          if (name) await this.custom.patchNamespacedCustomObject({ ...TM, name, body: { spec: { suspended: rnd() < 0.3 } } }, MERGE);
        } else {
          const name = pick();
          if (name) {
            await this.custom.deleteNamespacedCustomObject({ ...TM, name });
            this.deleted.add(name);
          }
        }
      } catch {
        // the API server is down or said no: the user tries something else in a moment
      }
      await sleep(o.pauseMs ?? 100);
    }
  }

  async createMember(name: string): Promise<void> {
    await this.custom.createNamespacedCustomObject({ ...TM, body: aMember(NS, name, POLICY) });
    this.created.add(name);
  }

  /** Every promise, checked against the cluster and OpenRouter's own records. */
  async audit(): Promise<Audit> {
    const members: TeamMember[] = [];
    let _continue: string | undefined;
    do {
      const page = (await this.custom.listNamespacedCustomObject({ ...TM, limit: 500, ...(_continue ? { _continue } : {}) })) as { items: TeamMember[]; metadata?: { continue?: string } };
      members.push(...page.items);
      _continue = page.metadata?.continue || undefined;
    } while (_continue);
    const secrets = new Map((await this.core.listNamespacedSecret({ namespace: NS })).items.map((s) => [s.metadata?.name ?? '', s]));
    const keys = this.emu.store.state.keys.filter((k) => parseKeyName(k.name)?.cluster === CLUSTER_ID);
    const byUid = new Map<string, typeof keys>();
    for (const k of keys) {
      const uid = parseKeyName(k.name)?.uid ?? '';
      byUid.set(uid, [...(byUid.get(uid) ?? []), k]);
    }
    const a: Audit = { live: 0, withoutWorkingKey: [], orphans: [], doubles: [], pending: [] };
    const uids = new Set<string>();
    for (const m of members) {
      const name = m.metadata.name;
      uids.add(m.metadata.uid ?? '');
      if (m.metadata.deletionTimestamp || m.status?.pendingKey) {
        a.pending.push(name);
        continue;
      }
      a.live++;
      const mine = byUid.get(m.metadata.uid ?? '') ?? [];
      const enabled = mine.filter((k) => !k.disabled);
      // a suspended member may have no enabled key at all
      const allowed = new Set(m.spec.suspended ? [] : [m.status?.key?.hash, ...(m.status?.previousKeys ?? []).filter((p) => p.state === 'Draining').map((p) => p.hash)]);
      for (const k of enabled) if (!allowed.has(k.hash)) a.doubles.push(`${name}: ${k.hash.slice(0, 8)}`);
      if (m.spec.suspended) continue;
      const ready = m.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
      const current = enabled.find((k) => k.hash === m.status?.key?.hash);
      const inSecret = secrets.get(m.status?.secretName ?? `${name}-openrouter`)?.data?.['OPENROUTER_API_KEY'];
      if (!ready || !current || !inSecret || digestOf(Buffer.from(inSecret, 'base64').toString()) !== current.digest) a.withoutWorkingKey.push(name);
    }
    for (const k of keys) if (!uids.has(parseKeyName(k.name)?.uid ?? '')) a.orphans.push(k.name);
    return a;
  }

  /** Waits (up to `timeoutMs`) for a clean audit; returns the seconds it took and the last audit. */
  async converge(timeoutMs: number): Promise<{ seconds: number; audit: Audit }> {
    const t0 = performance.now();
    let last: Audit | undefined;
    while (performance.now() - t0 < timeoutMs) {
      last = await this.audit().catch(() => undefined);
      if (last && clean(last)) break;
      await sleep(500);
    }
    return { seconds: (performance.now() - t0) / 1000, audit: last ?? (await this.audit()) };
  }

  /** Management API calls so far, by route and status. */
  calls(): number {
    return Object.entries(this.emu.counters()).filter(([r]) => r.includes('/api/v1/') && !r.includes('/chat/')).reduce((s, [, by]) => s + Object.values(by).reduce((a, b) => a + b, 0), 0);
  }

  async stop(): Promise<void> {
    try {
      for (const op of this.running()) await this.kill(op);
      await this.emu.stop();
    } finally {
      await this.cp.stop();
    }
  }
}
