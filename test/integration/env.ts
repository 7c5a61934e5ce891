/** A running operator (in this process) against the real control plane and an in-process emulator. */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { CoreV1Api, CustomObjectsApi, EventsV1Api, type KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { expect, inject } from 'vitest';
import type { TeamMember } from '../../src/api/schema.ts';
import { loadConfig } from '../../src/config.ts';
import { toYaml, type Manifest } from '../kit/objects.ts';
import { clusterHaystack, IssuedKeys, keyLeaks } from './scan.ts';
import { Emulator } from '../../src/emulator/server.ts';
import { newSecret } from '../../src/emulator/state.ts';
import { Operator } from '../../src/operator.ts';
import { OffsetClock } from '../../src/util/clock.ts';
import { MERGE, eventually, freshNamespace, kubeConfigAt, memberCondition } from './kube.ts';

const run = promisify(execFile);

export interface EnvOptions {
  /** another cluster than the suite's shared one */
  cluster?: { kubeconfigPath: string; binDir: string };
  clusterId?: string;
  orphanGrace?: string;
  workers?: number;
  maxConcurrentRotations?: number;
  /** the operator's rate-limit ceiling and burst (default: high enough never to matter) */
  rateLimit?: { perSecond: number; burst: number };
  /**
   * OpenRouter's analytics quota (64 a minute) and the operator's analytics lane at its default (32 a minute).
   * Off by default: tests drive a sync whenever they move the clock, far more often than an operator syncs.
   */
  analyticsQuota?: boolean;
  /** what the management-key Secret holds at start */
  initialKey?: 'management' | 'standard' | 'missing';
  /** leave --cluster-id unset: the operator derives its id (src/controller/identity.ts), as in production */
  derivedId?: boolean;
  /** another env whose OpenRouter account (emulator, management key, clocks) this one's operator shares */
  account?: { emu: Emulator; emuUrl: string; mk: string; clock: OffsetClock; openRouterClock: OffsetClock; issued: IssuedKeys };
}

export async function startEnv(o: EnvOptions = {}) {
  const kubeconfigPath = o.cluster?.kubeconfigPath ?? inject('kubeconfigPath');
  const kc = kubeConfigAt(kubeconfigPath);
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const mk = o.account?.mk ?? newSecret();
  // two clocks, as in the world: the operator's, and OpenRouter's, which follows it at an offset a test sets
  // (env.skew). Moving the operator's clock moves both (across a reset boundary, say); by default they agree.
  const clock = o.account?.clock ?? new OffsetClock();
  const openRouterClock = o.account?.openRouterClock ?? new OffsetClock(clock);
  const issued = o.account?.issued ?? new IssuedKeys();
  const emu = o.account?.emu ?? new Emulator({ managementKeys: [mk], clock: openRouterClock, onIssued: issued.collect });
  const emuUrl = o.account?.emuUrl ?? (await emu.start());
  if (!o.account && !o.analyticsQuota) emu.analytics = { ...emu.analytics, perMinute: null };
  const clusterId = o.clusterId ?? `c${randomBytes(3).toString('hex')}`;
  // every test file runs its own operator on the shared control plane; each manages only its own namespaces
  const scope = { 'teamkeys.dev/test-env': clusterId };
  const system = await freshNamespaceWith(kc, 'tk-system', scope);
  const initial = o.initialKey ?? 'management';
  if (initial !== 'missing') {
    const apiKey = initial === 'management' ? mk : emu.store.createKey({ name: 'a standard key' }).secret;
    await core.createNamespacedSecret({ namespace: system, body: { metadata: { name: 'teamkeys-management-key' }, stringData: { apiKey } } });
  }
  const logs: string[] = [];
  const sink = new Writable({ write(chunk: Buffer, _e, cb) { logs.push(chunk.toString()); cb(); } });
  const cfg = loadConfig([], {
    POD_NAMESPACE: system,
    TEAMKEYS_CLUSTER_ID: o.derivedId ? undefined : clusterId,
    TEAMKEYS_OPENROUTER_URL: `${emuUrl}/api/v1`,
    TEAMKEYS_ORPHAN_GRACE: o.orphanGrace ?? '10m',
    TEAMKEYS_MIN_SYNC_INTERVAL: '1h', // tests call sync() themselves
    TEAMKEYS_CREDENTIALS_INTERVAL: '1s',
    TEAMKEYS_WORKERS: String(o.workers ?? 4),
    TEAMKEYS_MAX_CONCURRENT_ROTATIONS: String(o.maxConcurrentRotations ?? 10),
    TEAMKEYS_RATE_LIMIT_PER_SECOND: String(o.rateLimit?.perSecond ?? 200),
    TEAMKEYS_RATE_LIMIT_BURST: String(o.rateLimit?.burst ?? 200),
    ...(o.analyticsQuota ? {} : { TEAMKEYS_ANALYTICS_PER_MINUTE: '60000' }),
    POD_NAME: 'test-operator',
    TEAMKEYS_NAMESPACE_SELECTOR: `teamkeys.dev/test-env=${clusterId}`,
  });
  const logger = pino({ level: 'debug' }, sink);
  let op = new Operator(cfg, kc, clock, logger);
  await op.start();
  if (initial === 'management') await eventually(() => op.ready || undefined, 30_000, 'operator ready');
  let running = true;
  /** Stops the operator (the emulator keeps running), as when its Deployment is scaled to zero. */
  const stopOperator = async () => {
    if (running) await op.stop();
    running = false;
  };
  /** A fresh operator with the same configuration: empty caches, as after a restart. */
  const startOperator = async () => {
    await stopOperator();
    op = new Operator(cfg, kc, clock, logger);
    await op.start();
    running = true;
    await eventually(() => op.ready || undefined, 30_000, 'operator ready');
  };

  /**
   * As SIGKILL does from outside: from this instant not one more write leaves the old operator (the leader's
   * fence refuses them mid-reconcile; a request already sent lands or not, as it would), and a fresh one starts.
   */
  const crashOperator = async () => {
    op.depose();
    await op.stop(0);
    running = false;
    await startOperator();
  };

  const kubectl = async (args: string[], input?: string) => {
    const child = run(join(o.cluster?.binDir ?? inject('controlPlaneBinDir'), 'kubectl'), ['--kubeconfig', kubeconfigPath, ...args]);
    if (input !== undefined) {
      child.child.stdin?.end(input);
    }
    return child;
  };
  /** kubectl apply -f - of a YAML stream, or of manifests the kit built (test/kit/objects.ts). */
  const apply = async (what: string | Manifest | readonly Manifest[]) => (await kubectl(['apply', '-f', '-'], typeof what === 'string' ? what : toYaml(what))).stdout;

  const member = async (ns: string, name: string) =>
    (await custom.getNamespacedCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', namespace: ns, plural: 'teammembers', name })) as TeamMember;

  /** Waits until the queue is drained and nothing is due soon: the operator has converged. */
  const settled = async (timeoutMs = 30_000, quietMs = 300, withinMs = 2_000) => {
    let quietSince = 0;
    await eventually(() => {
      if (!op.queue.idle(withinMs)) {
        quietSince = 0;
        return undefined;
      }
      quietSince ||= Date.now();
      return Date.now() - quietSince > quietMs || undefined;
    }, timeoutMs, 'operator settled');
  };

  const ready = async (ns: string, name: string, timeoutMs = 30_000) => {
    await memberCondition(kc, ns, name, 'Ready', 'True', timeoutMs);
    return member(ns, name);
  };

  const secretData = async (ns: string, name: string) => {
    const s = await core.readNamespacedSecret({ namespace: ns, name });
    return Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));
  };

  const chat = (key: string, model = 'openai/gpt-4o-mini') =>
    fetch(`${emuUrl}/api/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }) });

  const events = async (ns: string) => (await kc.makeApiClient(EventsV1Api).listNamespacedEvent({ namespace: ns })).items;

  /** Every place a key string issued here (or the management key) is found where none may be. */
  const leaks = async (namespaces: readonly string[] = []) => {
    const mine = (await core.listNamespace({ labelSelector: `teamkeys.dev/test-env=${clusterId}` })).items.map((n) => n.metadata?.name ?? '');
    return keyLeaks([mk, ...issued.all], [
      { where: 'the operator log', text: logs.join('') },
      { where: '/metrics', text: await op.metrics.registry.metrics() },
      { where: "the emulator's state file", text: JSON.stringify(emu.store.state) },
      ...(await clusterHaystack(kc, core, custom, [...new Set([...mine, ...namespaces])])),
    ]);
  };

  /** Stops everything, after the hunt for key strings (every test file's operator is searched at its end). */
  const stop = async () => {
    try {
      expect(await leaks()).toEqual([]);
    } finally {
      await stopOperator();
      if (!o.account) await emu.stop();
    }
  };

  /** OpenRouter's clock set `ms` ahead of the operator's (negative: behind); 0 makes them agree again. */
  const skew = (ms: number) => openRouterClock.set(clock.now() + ms);

  return { kc, core, custom, emu, emuUrl, mk, clock, openRouterClock, skew, issued, get op() { return op; }, stopOperator, startOperator, crashOperator, logs, clusterId, system, kubectl, apply, leaks, member, settled, ready, secretData, chat, events, stop, newNamespace: (p: string, labels?: Record<string, string>) => freshNamespaceWith(kc, p, { ...labels, ...scope }) };
}

async function freshNamespaceWith(kc: KubeConfig, prefix: string, labels?: Record<string, string>): Promise<string> {
  const ns = await freshNamespace(kc, prefix);
  if (labels) await kc.makeApiClient(CoreV1Api).patchNamespace({ name: ns, body: { metadata: { labels } } }, MERGE);
  return ns;
}

export type Env = Awaited<ReturnType<typeof startEnv>>;
