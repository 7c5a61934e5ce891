/**
 * Time under control: the operator and the emulator share one clock the test moves, so window boundaries are
 * crossed on purpose instead of waited for.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { nextReset } from '../../src/util/windows.ts';
import { eventually } from './kube.ts';
import { startEnv, type Env } from './env.ts';
import { aMember, aPolicy } from '../kit/objects.ts';

let env: Env;
let ns = '';
beforeAll(async () => {
  env = await startEnv();
  // a fixed instant (a Wednesday, midday): the spend and the replacement below happen in one week, whatever the
  // date, before the test moves the clock across the weekly reset on purpose
  env.clock.set(Date.parse('2027-03-10T12:00:00Z'));
  ns = await env.newNamespace('clock');
  await env.apply(aPolicy(`clock-${ns}`, { budget: { limitUSD: 4, reset: 'weekly' } }));
});
afterAll(() => env.stop());

it('gives a replacement key its full limit back when the week resets, and forgets the carried spend', async () => {
  await env.apply(aMember(ns, 'max', `clock-${ns}`));
  const hash = (await env.ready(ns, 'max')).status?.key?.hash ?? '';
  env.emu.store.spend(env.emu.store.getKey(hash), { usd: 3 });
  await env.op.sync();
  await eventually(async () => ((await env.member(ns, 'max')).status?.usage?.windowUSD === 3) || undefined, 10_000, 'spend observed');
  env.emu.store.deleteKey(hash); // in the dashboard
  await env.op.sync();
  const replaced = await eventually(async () => {
    const st = (await env.member(ns, 'max')).status;
    return st?.key?.hash && st.key.hash !== hash && st.budget?.carriedUSD !== undefined ? st : undefined;
  }, 10_000, 'replacement, with its carried spend');
  const fresh = replaced.key?.hash ?? '';
  expect(env.emu.store.getKey(fresh).limit).toBe(1);
  expect(replaced.budget).toMatchObject({ carriedUSD: 3, remainingUSD: 1 });

  env.clock.set(nextReset('weekly', env.clock.now()) + 5_000); // Monday 00:00:05 UTC, for both
  await env.op.sync();
  await eventually(() => env.emu.store.getKey(fresh).limit === 4 || undefined, 10_000, 'full limit restored');
  const s = await eventually(async () => {
    const st = (await env.member(ns, 'max')).status;
    return st?.budget?.remainingUSD === 4 ? st : undefined;
  }, 10_000, 'status after the reset');
  expect(s.budget?.carriedUSD).toBeUndefined();
  expect(s.usage?.windowUSD).toBe(0);
  expect(s.key?.hash).toBe(fresh);
});
