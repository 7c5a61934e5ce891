/**
 * No key left idle: a key that spent nothing for the policy's inactivity.disableAfter is disabled, after
 * deleteAfter deleted, and comes back only with the teamkeys.dev/reactivate annotation, with its budget intact.
 * Time is moved with the clock the operator and the emulator share.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { nextReset } from '../../src/util/windows.ts';
import { MERGE, eventually } from './kube.ts';
import { startEnv, type Env } from './env.ts';
import { expectNoKeyStrings } from './scan.ts';
import { aMember, aPolicy } from '../kit/objects.ts';

const HOUR = 3_600_000;
let env: Env;
let ns = '';
let policy = '';
beforeAll(async () => {
  env = await startEnv();
  // far from a month boundary, so the budget window stays one through the test
  env.clock.set(nextReset('monthly', env.clock.now()) + 10 * 24 * HOUR);
  ns = await env.newNamespace('idle');
  policy = `idle-${ns}`;
  await env.apply(aPolicy(policy, { budget: { limitUSD: 10 }, inactivity: { disableAfter: '2h', deleteAfter: '5h' } }));
  await env.apply(['ada', 'bob'].map((m) => aMember(ns, m, policy)));
}, 60_000);
afterAll(() => env.stop());

interface PolicyView { status?: { inactivity?: { disabled: number; deleted: number; members: string[] } } }
const getPolicy = async () => (await env.custom.getClusterCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', plural: 'keypolicies', name: policy })) as PolicyView;
const emuKey = (hash: string | undefined) => env.emu.store.state.keys.find((k) => k.hash === hash);
const condition = async (name: string, type: string) => (await env.member(ns, name)).status?.conditions?.find((c) => c.type === type);
/** Events are written after the change they report: wait for one instead of reading at once. */
const sawEvent = (namespace: string, match: (e: { reason?: string; note?: string; regarding?: { name?: string } }) => boolean, what: string) =>
  eventually(async () => (await env.events(namespace)).some(match) || undefined, 10_000, what);
const passTime = async (ms: number) => {
  env.clock.advance(ms);
  await env.op.sync();
  await env.settled();
};

it('disables a key idle past disableAfter, keeps one that spends, and reports what it reaped', async () => {
  const ada = await env.ready(ns, 'ada');
  const bob = await env.ready(ns, 'bob');
  expect(await condition('bob', 'Inactive')).toMatchObject({ status: 'False', reason: 'Active', message: expect.stringMatching(/disabled after 2h without spend and deleted after 5h/) });
  const route = (r: string) => Object.values(env.emu.counters()[r] ?? {}).reduce((a, b) => a + b, 0);
  const KEY_ROUTES = ['GET /api/v1/keys', 'GET /api/v1/keys/{hash}', 'PATCH /api/v1/keys/{hash}', 'POST /api/v1/keys', 'DELETE /api/v1/keys/{hash}'];
  const calls0 = KEY_ROUTES.map(route);

  await passTime(HOUR);
  env.emu.store.spend(env.emu.store.getKey(ada.status?.key?.hash ?? ''), { usd: 1 });
  const before = env.clock.now() + 0.5 * HOUR;
  await passTime(0.5 * HOUR);
  // the sync that saw the spend move set the time
  const seen = Date.parse((await env.member(ns, 'ada')).status?.activity?.lastSpendAt ?? '');
  expect(seen).toBeGreaterThanOrEqual(before);
  expect(seen).toBeLessThanOrEqual(env.clock.now());
  await passTime(0.6 * HOUR); // bob: 2.1h without spend; ada: 0.6h

  const inactive = await eventually(async () => (await condition('bob', 'Ready'))?.reason === 'Inactive' ? env.member(ns, 'bob') : undefined, 10_000, 'bob inactive');
  expect(inactive.status?.inactive).toMatchObject({ keyDeleted: false });
  expect(await condition('bob', 'Inactive')).toMatchObject({ status: 'True', reason: 'KeyDisabled' });
  expect(emuKey(bob.status?.key?.hash)?.disabled).toBe(true);
  expect(emuKey(ada.status?.key?.hash)?.disabled).toBe(false);
  expect((await condition('ada', 'Ready'))?.status).toBe('True');
  await sawEvent(ns, (e) => e.reason === 'Inactive' && e.regarding?.name === 'bob', 'Inactive Event');
  const report = await eventually(async () => (await getPolicy()).status?.inactivity, 10_000, 'policy report');
  expect(report).toEqual({ disabled: 1, deleted: 0, members: [`${ns}/bob`] });
  await sawEvent('default', (e) => e.reason === 'KeysReaped' && e.regarding?.name === policy, 'KeysReaped Event');
  // tracking activity costs no call of its own: three syncs listed the keys (one page each), then one disable
  expect(KEY_ROUTES.map((r, i) => route(r) - (calls0[i] ?? 0))).toEqual([3, 0, 1, 0, 0]);
});

it('brings a disabled key back with the reactivate annotation, and only with it', async () => {
  await passTime(0.5 * HOUR);
  expect((await condition('bob', 'Ready'))?.reason).toBe('Inactive');
  const hash = (await env.member(ns, 'bob')).status?.key?.hash;
  await env.kubectl(['annotate', 'tm', 'bob', '-n', ns, 'teamkeys.dev/reactivate=back-1']);
  await env.ready(ns, 'bob');
  expect(emuKey(hash)?.disabled).toBe(false);
  const s = (await env.member(ns, 'bob')).status;
  expect(s?.inactive).toBeUndefined();
  expect(s?.activity?.reactivation).toBe('back-1');
  expect(s?.key?.hash).toBe(hash); // the same key
  await sawEvent(ns, (e) => e.reason === 'KeyReactivated' && e.regarding?.name === 'bob', 'KeyReactivated Event');

  // idle again; this time a change to its spec is the deliberate act
  await passTime(2.1 * HOUR);
  await eventually(async () => (await condition('bob', 'Ready'))?.reason === 'Inactive' || undefined, 10_000, 'bob inactive again');
  await env.custom.patchNamespacedCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', namespace: ns, plural: 'teammembers', name: 'bob', body: { spec: { displayName: 'Bob, back from leave' } } }, MERGE);
  await env.ready(ns, 'bob');
  expect(emuKey(hash)?.disabled).toBe(false);
  await sawEvent(ns, (e) => e.reason === 'KeyReactivated' && /the spec changed/.test(e.note ?? ''), 'KeyReactivated Event');
});

it('deletes a key idle past deleteAfter, and a reactivated member gets a new one without a second budget', async () => {
  const ada = (await env.member(ns, 'ada')).status;
  await passTime(5.1 * HOUR);
  await eventually(async () => (await env.member(ns, 'ada')).status?.inactive?.keyDeleted || undefined, 10_000, 'ada key deleted');
  await eventually(async () => (await env.member(ns, 'bob')).status?.inactive?.keyDeleted || undefined, 10_000, 'bob key deleted');
  expect(emuKey(ada?.key?.hash)).toBeUndefined();
  expect(await condition('ada', 'Inactive')).toMatchObject({ status: 'True', reason: 'KeyDeleted' });
  await sawEvent(ns, (e) => e.reason === 'InactiveKeyDeleted' && e.regarding?.name === 'ada', 'InactiveKeyDeleted Event');
  await eventually(async () => (await getPolicy()).status?.inactivity?.deleted === 2 || undefined, 10_000, 'policy counts deletions');
  // a sync later, nothing comes back by itself
  await passTime(HOUR);
  expect((await env.member(ns, 'ada')).status?.key).toBeUndefined();

  await env.kubectl(['annotate', 'tm', 'ada', '-n', ns, 'teamkeys.dev/reactivate=back-1']);
  const back = await env.ready(ns, 'ada');
  expect(back.status?.key?.hash).not.toBe(ada?.key?.hash);
  // ada spent 1 USD with the deleted key this month: the new key gets what is left
  expect(emuKey(back.status?.key?.hash)?.limit).toBe(9);
  const secret = await env.secretData(ns, 'ada-openrouter');
  expect((await env.chat(secret['OPENROUTER_API_KEY'] ?? '')).status).toBe(200);
});

it('leaks no key string into logs, Events or statuses', async () => {
  await expectNoKeyStrings(env, [ns]);
});
