/**
 * Workloads that opted in are restarted once per new key, the previous key is disabled only after they rolled
 * out (or when the overlap ends, with RotationStalled), and nothing restarts by accident.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TeamMemberStatus } from '../../src/api/schema.ts';
import { eventually } from './kube.ts';
import { startEnv, type Env } from './env.ts';
import { NEVER_READY, Workload } from './rollout.ts';
import { aMember, aPolicy } from '../kit/objects.ts';

let env: Env;
let n = '';
const OPT_IN = { 'teamkeys.dev/restart-on-rotation': 'true' };
beforeAll(async () => {
  env = await startEnv({ orphanGrace: '1s' });
  env.clock.set(Date.parse('2027-03-10T12:00:00Z'));
  n = await env.newNamespace('restart');
  await env.apply(aPolicy(`restart-${n}`, { budget: { limitUSD: 10 }, rotation: { overlap: '30m' } }));
});
afterAll(() => env.stop());

const member = async (name: string) => {
  await env.apply(aMember(n, name, `restart-${n}`));
  return env.ready(n, name);
};
const status = async (name: string) => (await env.member(n, name)).status ?? {};
const annotate = (name: string, value: string) => env.kubectl(['annotate', 'tm', name, '-n', n, '--overwrite', `teamkeys.dev/rotate=${value}`]);
const emuKey = (hash: string) => env.emu.store.state.keys.find((k) => k.hash === hash);
const rotated = (name: string, count: number) => eventually(async () => {
  const s = await status(name);
  return (s.rotation?.count ?? 0) >= count && !s.pendingKey ? s : undefined;
}, 20_000, `${name} rotated`);
const drainingOf = (s: TeamMemberStatus) => s.previousKeys?.find((p) => p.state === 'Draining')?.hash ?? '';
/** The operator recorded the generations it saw on the workload (what a first sight does, without a restart). */
const recorded = (w: Workload, value: string) => eventually(async () => ((await w.read()).metadata?.annotations?.['teamkeys.dev/key-generations'] === value) || undefined, 15_000, `${w.name} recorded ${value}`);

describe('restarting workloads on a new key', () => {
  it('rolls an env-var Deployment once per rotation, and disables the old key only after the rollout', async () => {
    const m = await member('ann');
    const w = await Workload.create(env.kc, n, 'web', { replicas: 3, secretName: 'ann-openrouter', labels: OPT_IN });
    await w.rolledOut();
    await recorded(w, 'ann-openrouter=1');
    expect(await w.revision(), 'opting in restarts nothing').toBe(1);

    await annotate('ann', 'r1');
    const s = await rotated('ann', 1);
    const old = m.status?.key?.hash ?? '';
    expect(drainingOf(s)).toBe(old);
    // the rollout completes; only then is the previous key disabled, well inside the 30 minute overlap
    await eventually(() => emuKey(old)?.disabled || undefined, 60_000, 'the previous key disabled after the rollout');
    const d = await w.read();
    expect(d.spec?.template.metadata?.annotations?.['teamkeys.dev/key-generations']).toBe('ann-openrouter=2');
    expect(d.status?.updatedReplicas).toBe(3);
    expect(d.status?.availableReplicas).toBe(3);
    expect(await w.revision()).toBe(2);
    const events = await eventually(async () => {
      const on = (await env.events(n)).filter((e) => e.reason === 'PreviousKeyDisabled' && e.regarding?.name === 'ann');
      return on.length > 0 ? on : undefined;
    }, 10_000, 'PreviousKeyDisabled');
    expect(events.map((e) => e.note).join()).toMatch(/1 workload\(s\) rolled out/);

    // a sync and an operator restart restart nothing more
    await env.op.sync();
    await env.startOperator();
    await env.settled(30_000, 500, 3_000);
    expect(await w.revision()).toBe(2);
  });

  it('rolls a Deployment that uses two members\u2019 Secrets once when both rotate together', async () => {
    await member('bo');
    await member('cy');
    const w = await Workload.create(env.kc, n, 'pair', { replicas: 2, secretName: 'bo-openrouter', moreSecrets: ['cy-openrouter'], labels: OPT_IN });
    await w.rolledOut();
    await recorded(w, 'bo-openrouter=1,cy-openrouter=1');
    await Promise.all([annotate('bo', 'x'), annotate('cy', 'x')]);
    await rotated('bo', 1);
    await rotated('cy', 1);
    await recorded(w, 'bo-openrouter=2,cy-openrouter=2');
    await w.rolledOut();
    expect(await w.revision()).toBe(2);
  });

  it('restarts nothing that did not opt in', async () => {
    await member('dee');
    const w = await Workload.create(env.kc, n, 'plain', { replicas: 1, secretName: 'dee-openrouter' });
    await w.rolledOut();
    await annotate('dee', 'x');
    await rotated('dee', 1);
    await env.settled(30_000, 500, 3_000);
    expect(await w.revision()).toBe(1);
  });

  it('a rollout that stalls keeps the old key until the overlap ends, then disables it with RotationStalled', async () => {
    const m = await member('eve');
    const w = await Workload.create(env.kc, n, 'stuck', { replicas: 2, secretName: 'eve-openrouter', labels: OPT_IN, neverReady: true, progressDeadlineSeconds: 5 });
    await recorded(w, 'eve-openrouter=1');
    await annotate('eve', 'x');
    await rotated('eve', 1);
    const old = m.status?.key?.hash ?? '';
    await eventually(async () => ((await w.read()).spec?.template.metadata?.annotations?.['teamkeys.dev/key-generations'] === 'eve-openrouter=2') || undefined, 15_000, 'restart asked');
    expect((await w.read()).spec?.template.metadata?.annotations?.['kwok.x-k8s.io/status']).toBe(NEVER_READY['kwok.x-k8s.io/status']);
    await env.op.sync();
    await env.settled(30_000, 500, 3_000);
    expect(emuKey(old)?.disabled, 'still enabled while the rollout has not completed').toBe(false);
    env.clock.advance(31 * 60_000);
    await env.op.sync();
    await eventually(() => emuKey(old)?.disabled || undefined, 15_000, 'disabled once the overlap ended');
    // the Events follow the disable
    const stalled = await eventually(async () => {
      const on = (await env.events(n)).filter((e) => e.reason === 'RotationStalled').map((e) => `${e.regarding?.kind}/${e.regarding?.name}`).toSorted();
      return on.length >= 2 ? on : undefined;
    }, 10_000, 'RotationStalled on the member and the workload');
    expect(stalled).toEqual(['Deployment/stuck', 'TeamMember/eve']);
    const text = await env.op.metrics.registry.metrics();
    expect(text).toMatch(/^teamkeys_rotation_overlaps_ended_total\{ended="stalled"\} 1$/m);
    expect(text).toMatch(/^teamkeys_rotation_duration_seconds_count\{ended="stalled"\} 1$/m);
  });
});
