/**
 * OpenRouter's rate limit, found rather than configured: the emulator enforces 10 management calls a second
 * (429 + Retry-After), the operator starts from a ceiling of 60 and provisions a burst of members. It learns the
 * limit from the 429s, refuses to create a key twice, and wastes few calls on refusals. (The sustained rate and
 * the 1% bound are proven on a simulated OpenRouter in test/unit/adaptive.test.ts; `make bench` measures them.)
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startEnv, type Env } from './env.ts';
import { expectNoKeyStrings } from './scan.ts';
import { aPolicy, members } from '../kit/objects.ts';

const MEMBERS = 60;
const LIMIT = 10;
let env: Env;
let ns = '';
beforeAll(async () => {
  env = await startEnv({ rateLimit: { perSecond: 60, burst: 10 }, workers: 8 });
  ns = await env.newNamespace('limited');
}, 60_000);
afterAll(() => env.stop());

const management = () => {
  let all = 0;
  let refused = 0;
  for (const [route, byStatus] of Object.entries(env.emu.counters())) {
    if (route.startsWith('POST /api/v1/chat') || route.includes('_emulator')) continue;
    for (const [status, n] of Object.entries(byStatus)) {
      all += n;
      if (status === '429') refused += n;
    }
  }
  return { all, refused };
};
const metric = async (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(await env.op.metrics.registry.metrics())?.[1] ?? NaN);

it('provisions a burst of members under OpenRouter\'s limit: one key each, the limit learned from 429s', async () => {
  env.emu.rateLimit.set({ perSecond: LIMIT });
  const before = management();
  await env.apply([aPolicy(`limited-${ns}`, { budget: { limitUSD: 1 } }), ...members(ns, 'm', MEMBERS, `limited-${ns}`)]);
  for (let i = 0; i < MEMBERS; i++) await env.ready(ns, `m${i}`, 120_000);

  const ours = env.emu.store.state.keys.filter((k) => k.name.includes(`/${ns}/`));
  expect(ours).toHaveLength(MEMBERS);
  expect(new Set(ours.map((k) => k.name.split('/')[3])).size).toBe(MEMBERS);
  const after = management();
  const refused = after.refused - before.refused;
  const calls = after.all - before.all;
  expect(refused, 'OpenRouter refused some calls: the limit was reached').toBeGreaterThan(0);
  expect(refused / calls, `${refused} of ${calls} calls refused`).toBeLessThanOrEqual(0.1);
  // learned: below the ceiling of 60, near the limit of 10
  const rate = await metric('teamkeys_openrouter_rate_limit_per_second');
  expect(rate).toBeGreaterThan(LIMIT * 0.5);
  expect(rate).toBeLessThan(LIMIT * 1.5);
  expect(await metric('teamkeys_openrouter_rate_limit_cuts_total')).toBeGreaterThanOrEqual(1);
});

it('keeps an idle fleet quiet under the limit: a sync lists and reads usage without a 429', async () => {
  const before = management();
  await env.op.sync();
  await env.settled();
  const after = management();
  expect(after.refused - before.refused).toBe(0);
  env.emu.rateLimit.set(undefined);
});

it('leaks no key string into logs, Events or statuses', async () => {
  await expectNoKeyStrings(env, [ns]);
});
