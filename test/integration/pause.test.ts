/**
 * teamkeys.dev/paused=true on a TeamMember or its KeyPolicy: the operator changes nothing and says so in status,
 * except what takes a key away — a deletion still offboards, a suspension still disables the key (fail closed).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { eventually } from './kube.ts';
import { startEnv, type Env } from './env.ts';
import { aMember, aPolicy } from '../kit/objects.ts';

let env: Env;
let n = '';
beforeAll(async () => {
  env = await startEnv();
  n = await env.newNamespace('pause');
});
afterAll(() => env.stop());

const emuKey = (hash: string | undefined) => env.emu.store.state.keys.find((k) => k.hash === hash);
const posts = () => Object.values(env.emu.counters()['POST /api/v1/keys'] ?? {}).reduce((a, b) => a + b, 0);
const annotate = (kind: 'tm' | 'kp', name: string, value: string) => env.kubectl(['annotate', kind, name, ...(kind === 'tm' ? ['-n', n] : []), '--overwrite', `teamkeys.dev/paused${value === '-' ? '-' : `=${value}`}`]);
const condition = async (name: string, type: string) => (await env.member(n, name)).status?.conditions?.find((c) => c.type === type);
const pausedBecause = (name: string, reason: string) => eventually(async () => ((await condition(name, 'Paused'))?.reason === reason ? true : undefined), 10_000, `${name} Paused ${reason}`);

it('a member created paused gets no key until the pause is lifted', async () => {
  await env.apply(aPolicy(`pause-${n}`, { budget: { limitUSD: 5 } }));
  const before = posts();
  await env.apply({ ...aMember(n, 'new', `pause-${n}`), metadata: { name: 'new', namespace: n, annotations: { 'teamkeys.dev/paused': 'true' } } });
  await pausedBecause('new', 'PausedByAnnotation');
  await env.settled();
  expect(posts(), 'no key created while paused').toBe(before);
  expect((await env.member(n, 'new')).status?.key).toBeUndefined();
  await annotate('tm', 'new', '-');
  const m = await env.ready(n, 'new');
  expect(m.status?.conditions?.some((c) => c.type === 'Paused'), 'the condition goes with the pause').toBe(false);
  expect(emuKey(m.status?.key?.hash)?.disabled).toBe(false);
});

it('a paused member keeps its key as it is, but a suspension and a deletion still go through', async () => {
  await env.apply(aMember(n, 'ann', `pause-${n}`));
  const ready = await env.ready(n, 'ann');
  const hash = ready.status?.key?.hash;
  await annotate('tm', 'ann', 'true');
  await pausedBecause('ann', 'PausedByAnnotation');
  // a new limit and a rotation request wait for the pause to end
  await env.apply(aMember(n, 'ann', { policy: `pause-${n}`, limitUSD: 2 }));
  await env.kubectl(['annotate', 'tm', 'ann', '-n', n, '--overwrite', 'teamkeys.dev/rotate=now']);
  await env.settled();
  expect(emuKey(hash)?.limit, 'the limit is not applied while paused').toBe(5);
  expect((await env.member(n, 'ann')).status?.key?.hash, 'no rotation while paused').toBe(hash);
  // fail closed: a suspension disables the key even while paused, and status still says paused
  await env.apply(aMember(n, 'ann', { policy: `pause-${n}`, limitUSD: 2, suspended: true }));
  await eventually(() => (emuKey(hash)?.disabled ? true : undefined), 10_000, 'key disabled');
  expect((await condition('ann', 'Paused'))?.status).toBe('True');
  // a deletion offboards
  await env.kubectl(['delete', 'tm', 'ann', '-n', n, '--wait=true']);
  expect(emuKey(hash), 'the key is deleted (deletionPolicy Delete)').toBeUndefined();
});

it('a paused policy pauses itself and its members; lifting it applies what changed meanwhile', async () => {
  await env.apply(aMember(n, 'bob', `pause-${n}`));
  const hash = (await env.ready(n, 'bob')).status?.key?.hash;
  await annotate('kp', `pause-${n}`, 'true');
  await pausedBecause('bob', 'PolicyPaused');
  await eventually(async () => {
    const p = (await env.custom.getClusterCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', plural: 'keypolicies', name: `pause-${n}` })) as { status?: { conditions?: { type: string; status: string }[] } };
    return p.status?.conditions?.some((c) => c.type === 'Paused' && c.status === 'True') || undefined;
  }, 10_000, 'policy Paused');
  await env.apply(aPolicy(`pause-${n}`, { budget: { limitUSD: 7 } }));
  await env.settled();
  expect(emuKey(hash)?.limit, 'a policy edit waits while the policy is paused').toBe(5);
  await annotate('kp', `pause-${n}`, '-');
  await eventually(() => (emuKey(hash)?.limit === 7 ? true : undefined), 10_000, 'limit applied');
  await eventually(async () => ((await condition('bob', 'Paused')) === undefined ? true : undefined), 10_000, 'bob no longer paused');
  expect(emuKey(hash)?.disabled).toBe(false);
});
