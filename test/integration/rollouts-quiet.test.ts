/**
 * Gentle rollouts restart nothing by accident: an operator restart and a leader change, even with restarts waiting
 * in line (they keep their place, and restart once), a policy edit that changes no key, and a Job or CronJob
 * carrying the label (the next run mounts the new Secret).
 */
import { AppsV1Api, BatchV1Api, type V1Deployment } from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { Operator } from '../../src/operator.ts';
import { MERGE, eventually } from './kube.ts';
import { startEnv, type Env } from './env.ts';
import { batchWorkloads, Workload } from './rollout.ts';
import { aMember, aPolicy } from '../kit/objects.ts';

const OPT_IN = { 'teamkeys.dev/restart-on-rotation': 'true' };
const GENS = 'teamkeys.dev/key-generations';
const QUEUED = 'teamkeys.dev/restart-queued';
const RESTARTED = 'teamkeys.dev/restarted-at';
const MINUTE = 60_000;
/** one more than the default bound of a namespace (10 a minute): two wait */
const WORKLOADS = 12;

let env: Env;
let n = '';
let policy = '';
beforeAll(async () => {
  env = await startEnv({ orphanGrace: '1s' });
  env.clock.set(Date.parse('2027-03-10T12:00:00Z'));
  n = await env.newNamespace('quiet');
  policy = `quiet-${n}`;
  await env.apply(aPolicy(policy, { budget: { limitUSD: 10 }, rotation: { overlap: '1h' } }));
  for (const name of ['ann', 'bo']) {
    await env.apply(aMember(n, name, policy));
    await env.ready(n, name);
  }
  // no replicas: a restart is a new ReplicaSet (a revision) at once, and every rollout completes
  for (let i = 0; i < WORKLOADS; i++) await Workload.create(env.kc, n, `w${String(i).padStart(2, '0')}`, { replicas: 0, secretName: 'ann-openrouter', labels: OPT_IN });
  await eventually(async () => ((await workloads()).every((d) => d.metadata?.annotations?.[GENS] === 'ann-openrouter=1' && revision(d) === 1)) || undefined, 60_000, 'generations recorded');
}, 180_000);
afterAll(() => env.stop());

const workloads = async () => (await env.kc.makeApiClient(AppsV1Api).listNamespacedDeployment({ namespace: n, labelSelector: 'teamkeys.dev/restart-on-rotation=true' })).items.filter((d) => d.metadata?.name?.startsWith('w'));
const revision = (d: V1Deployment) => Number(d.metadata?.annotations?.['deployment.kubernetes.io/revision'] ?? 0);
const of = (d: V1Deployment, a: string) => d.metadata?.annotations?.[a];
const rotate = (name: string, value: string) => env.kubectl(['annotate', 'tm', name, '-n', n, '--overwrite', `teamkeys.dev/rotate=${value}`]);
/** What the operator did to each workload: its revision, when it restarted it, whether it waits. */
const snapshot = async () => Object.fromEntries((await workloads()).map((d) => [d.metadata?.name ?? '', { revision: revision(d), restartedAt: of(d, RESTARTED), queued: of(d, QUEUED) }]));
const workloadEvents = async (reason: string) => (await env.events(n)).filter((e) => e.reason === reason && e.regarding?.kind !== 'TeamMember').map((e) => e.regarding?.name ?? '').toSorted();
/** What `now` holds that `before` did not (as multisets). */
const added = (before: string[], now: string[]) => {
  const left = [...before];
  return now.filter((x) => {
    const i = left.indexOf(x);
    if (i < 0) return true;
    left.splice(i, 1);
    return false;
  });
};
const gauge = async (op: Operator) => Number(/^teamkeys_workload_restarts_queued (\S+)$/m.exec(await op.metrics.registry.metrics())?.[1] ?? 'NaN');
/** Nothing queued or running in the operator's work queue for a while. */
const quiet = (op: Operator) => {
  let since = 0;
  return eventually(() => {
    if (!op.queue.idle(2_000)) since = 0;
    else since ||= Date.now();
    return (since > 0 && Date.now() - since > 500) || undefined;
  }, 30_000, 'operator quiet');
};

/** A second operator with the first one's settings, prepared (caches warm) but standing by. */
async function standby(): Promise<Operator> {
  const cfg = loadConfig([], {
    POD_NAMESPACE: env.system, TEAMKEYS_CLUSTER_ID: env.clusterId, TEAMKEYS_OPENROUTER_URL: `${env.emuUrl}/api/v1`, TEAMKEYS_MIN_SYNC_INTERVAL: '1h',
    TEAMKEYS_CREDENTIALS_INTERVAL: '1s', TEAMKEYS_RATE_LIMIT_PER_SECOND: '200', TEAMKEYS_RATE_LIMIT_BURST: '200', TEAMKEYS_ANALYTICS_PER_MINUTE: '60000',
    POD_NAME: 'standby', TEAMKEYS_NAMESPACE_SELECTOR: `teamkeys.dev/test-env=${env.clusterId}`,
  });
  const op = new Operator(cfg, env.kc, env.clock, pino({ level: 'silent' }));
  await op.prepare();
  await eventually(() => op.ready || undefined, 30_000, 'standby ready');
  return op;
}

describe('nothing restarts twice, and nothing waiting is lost', () => {
  // each hands the work to a fresh operator while two restarts wait: it returns the operator now leading
  const handOvers: [string, () => Promise<Operator>][] = [
    ['an operator restart', async () => {
      await env.startOperator();
      return env.op;
    }],
    ['a leader change', async () => {
      const next = await standby();
      env.op.depose();
      next.lead();
      return next;
    }],
  ];

  it.each(handOvers)('%s: the workloads restarted stay restarted, those waiting keep their place and restart once', async (_what, handOver) => {
    // the key generation the rotation below brings (each restart is one new revision, so the same number)
    const generation = Number(/=(\d+)$/.exec(of((await workloads())[0] as V1Deployment, GENS) ?? '')?.[1] ?? 0) + 1;
    const queuedBefore = await workloadEvents('RestartQueued');
    // a full bucket: a minute since anything restarted
    env.clock.advance(MINUTE);
    await rotate('ann', `gen${generation}`);
    const waiting = await eventually(async () => {
      const s = Object.entries(await snapshot());
      const queued = s.filter(([, w]) => w.queued !== undefined).map(([name]) => name);
      return s.every(([, w]) => w.revision === generation || w.queued !== undefined) && queued.length > 0 ? queued : undefined;
    }, 30_000, 'each restarted or waiting');
    // ten restart, two wait (a slow machine may see a token come back: one every 6 s)
    expect(waiting.length).toBeLessThanOrEqual(2);
    expect(await gauge(env.op)).toBe(waiting.length);
    const before = await snapshot();

    const op = await handOver();
    await quiet(op);
    const after = await snapshot();
    for (const [name, w] of Object.entries(before)) {
      // a restarted one is not restarted again; a waiting one still waits since the same time, or (a token comes
      // back every 6 s, also while the new operator starts) restarted once
      const allowed = w.queued ? [w, { revision: generation, restartedAt: after[name]?.restartedAt, queued: undefined }] : [w];
      expect(allowed, name).toContainEqual(after[name]);
    }
    expect(await gauge(op)).toBe(Object.values(after).filter((w) => w.queued !== undefined).length);
    const queuedEvents = added(queuedBefore, await workloadEvents('RestartQueued'));
    expect(new Set(queuedEvents).size, 'RestartQueued once each').toBe(queuedEvents.length);
    expect(queuedEvents).toEqual(expect.arrayContaining(waiting));

    // a minute later the rest restart, once
    env.clock.advance(MINUTE);
    await op.sync();
    await eventually(async () => Object.values(await snapshot()).every((w) => w.revision === generation && w.queued === undefined) || undefined, 30_000, 'the rest restarted');
    await quiet(op);
    const end = await snapshot();
    for (const name of waiting) expect(end[name]?.restartedAt, name).not.toBe(before[name]?.restartedAt);
    expect(await gauge(op)).toBe(0);
    if (op !== env.op) {
      await op.stop();
      await env.startOperator();
    }
  }, 120_000);

  it('a policy edit that changes no key restarts nothing', async () => {
    const before = await snapshot();
    const restarted = (await workloadEvents('RestartedForNewKey')).length;
    await env.custom.patchClusterCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', plural: 'keypolicies', name: policy, body: { spec: { budget: { limitUSD: 20 } } } }, MERGE);
    // the members see it (their keys' limits go up, in place)
    await eventually(async () => ((await env.member(n, 'ann')).status?.key?.limitUSD ?? 0) > 10 || undefined, 20_000, 'the new limit applied');
    await env.op.sync();
    await env.settled(30_000, 500, 3_000);
    expect(await snapshot()).toEqual(before);
    expect((await workloadEvents('RestartedForNewKey')).length).toBe(restarted);
  });
});

describe('Jobs and CronJobs', () => {
  it('are left alone, labelled or not: the next run mounts the new Secret', async () => {
    await batchWorkloads(env.kc, n, 'bo-openrouter', OPT_IN);
    const web = await Workload.create(env.kc, n, 'bo-web', { replicas: 0, secretName: 'bo-openrouter', labels: OPT_IN });
    await eventually(async () => (of(await web.read(), GENS) === 'bo-openrouter=1') || undefined, 15_000, 'the Deployment beside them recorded');
    await rotate('bo', 'x');
    await eventually(async () => (of(await web.read(), GENS) === 'bo-openrouter=2') || undefined, 30_000, 'the Deployment beside them restarted');
    await env.settled(30_000, 500, 3_000);
    const batch = env.kc.makeApiClient(BatchV1Api);
    const job = await batch.readNamespacedJob({ namespace: n, name: 'once' });
    const cron = await batch.readNamespacedCronJob({ namespace: n, name: 'nightly' });
    const ours = (a: Record<string, string> | undefined) => Object.keys(a ?? {}).filter((k) => k.startsWith('teamkeys.dev/'));
    expect(ours(job.metadata?.annotations)).toEqual([]);
    expect(ours(job.spec?.template.metadata?.annotations)).toEqual([]);
    expect(ours(cron.metadata?.annotations)).toEqual([]);
    expect(ours(cron.spec?.jobTemplate.spec?.template.metadata?.annotations)).toEqual([]);
    expect(cron.metadata?.generation).toBe(1);
    const about = (await env.events(n)).filter((e) => e.regarding?.kind === 'Job' || e.regarding?.kind === 'CronJob').filter((e) => e.reportingController === 'teamkeys.dev/operator');
    expect(about).toEqual([]);
  });
});
