/**
 * The clock jumping: forward across a daily reset boundary, then back a few minutes (an NTP correction, skew). The
 * operator and the emulator share the clock the test moves. No churn: no key created, deleted or rotated, no
 * scheduled rotation brought forward; and no money lost: the spend of the old window stays in it, and the new
 * window starts with the whole limit.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { nextReset } from '../../src/util/windows.ts';
import { eventually } from './kube.ts';
import { startEnv, type Env } from './env.ts';
import { aMember, aPolicy } from '../kit/objects.ts';

const MEMBERS = ['a', 'b', 'c', 'd', 'e', 'f'];
let env: Env;
let ns = '';
const keyWrites = () => {
  const c = env.emu.counters();
  return Object.fromEntries(['POST /api/v1/keys', 'PATCH /api/v1/keys/{hash}', 'DELETE /api/v1/keys/{hash}'].map((r) => [r, Object.values(c[r] ?? {}).reduce((a, b) => a + b, 0)]));
};
interface Seen { key: string | undefined; rotations: number; next: string | undefined; remaining: number | undefined; window: number | undefined }
const snapshot = async (): Promise<Record<string, Seen>> => Object.fromEntries(await Promise.all(MEMBERS.map(async (m) => {
  const s = (await env.member(ns, m)).status;
  return [m, { key: s?.key?.hash, rotations: s?.rotation?.count ?? 0, next: s?.rotation?.nextRotationAt, remaining: s?.budget?.remainingUSD, window: s?.usage?.windowUSD }] as const;
})));

beforeAll(async () => {
  env = await startEnv();
  ns = await env.newNamespace('timejump');
  // midday of a Wednesday mid-month, so a few minutes back stays in the same day, and the jump across midnight
  // crosses the daily reset only (no weekly or monthly one), whatever the date
  env.clock.set(Date.parse('2027-03-10T12:00:00Z'));
  await env.apply(aPolicy(`tj-${ns}`, { budget: { limitUSD: 2, reset: 'daily' }, rotation: { every: '72h' } }));
  for (const m of MEMBERS) await env.apply(aMember(ns, m, `tj-${ns}`));
  for (const m of MEMBERS) {
    const hash = (await env.ready(ns, m)).status?.key?.hash ?? '';
    env.emu.store.spend(env.emu.store.getKey(hash), { usd: 1.5 });
  }
  await env.op.sync();
  await eventually(async () => Object.values(await snapshot()).every((s) => s.remaining === 0.5) || undefined, 20_000, 'spend observed');
  await env.settled();
});
afterAll(() => env.stop());

it('forward across the daily reset: every window starts again with its whole limit, and nothing is re-keyed', async () => {
  const before = await snapshot();
  const writes = keyWrites();
  env.clock.set(nextReset('daily', env.clock.now()) + 5_000);
  await env.op.sync();
  await eventually(async () => Object.values(await snapshot()).every((s) => s.remaining === 2 && s.window === 0) || undefined, 20_000, 'windows reset');
  await env.settled();
  const after = await snapshot();
  for (const m of MEMBERS) expect(after[m]).toMatchObject({ key: before[m]?.key, rotations: 0, next: before[m]?.next });
  expect(keyWrites()).toEqual(writes);
  // the old window's spend stayed there: the all-time usage still holds it, the new window is empty
  for (const m of MEMBERS) expect(env.emu.store.getKey(after[m]?.key ?? '').usage).toBe(1.5);
});

it('back five minutes (skew) and forward again: nothing is written, re-keyed or rotated', async () => {
  env.clock.set(env.clock.now() + 3 * 3_600_000); // mid-morning of the new day
  await env.op.sync();
  await env.settled();
  const before = await snapshot();
  const writes = keyWrites();
  env.clock.set(env.clock.now() - 5 * 60_000);
  await env.op.sync();
  await env.settled();
  expect(await snapshot()).toEqual(before);
  expect(keyWrites()).toEqual(writes);
  // and forward again past where it was: still nothing
  env.clock.set(env.clock.now() + 10 * 60_000);
  await env.op.sync();
  await env.settled();
  expect(await snapshot()).toEqual(before);
  expect(keyWrites()).toEqual(writes);
});
