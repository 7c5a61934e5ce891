/**
 * Usage per model without N calls: each sync reads spend and requests per key, model and day with one analytics
 * query; members show their top models, days and a burn-rate forecast (BudgetForecast), policies roll them up,
 * and a rotated-away key's spend still counts for its member.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { nextReset } from '../../src/util/windows.ts';
import { MERGE, eventually } from './kube.ts';
import { startEnv, type Env } from './env.ts';
import { expectNoKeyStrings } from './scan.ts';
import { aMember, aPolicy } from '../kit/objects.ts';

const DAY = 86_400_000;
let env: Env;
let ns = '';
let policy = '';
beforeAll(async () => {
  // OpenRouter's analytics quota and the operator's lane as in production: this file syncs a few times only
  env = await startEnv({ analyticsQuota: true });
  // ten days into a month: the monthly window and the days kept hold everything the test spends
  env.clock.set(nextReset('monthly', env.clock.now()) + 10 * DAY + 3_600_000);
  ns = await env.newNamespace('usage');
  policy = `usage-${ns}`;
  await env.apply(aPolicy(policy, { budget: { limitUSD: 5 }, rotation: { overlap: '1m' } }));
  await env.apply(['ada', 'bob'].map((m) => aMember(ns, m, policy)));
  await env.ready(ns, 'ada');
  await env.ready(ns, 'bob');
}, 60_000);
afterAll(() => env.stop());

interface PolicyView { status?: { requestsThisWindow?: number; spendByModel?: { model: string; usd: number; requests: number }[]; forecastExhausting?: number } }
const getPolicy = async () => (await env.custom.getClusterCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', plural: 'keypolicies', name: policy })) as PolicyView;
const calls = (route: string) => Object.values(env.emu.counters()[route] ?? {}).reduce((a, b) => a + b, 0);
const keyOf = async (name: string) => (await env.secretData(ns, `${name}-openrouter`))['OPENROUTER_API_KEY'] ?? '';
const sync = async () => {
  await env.op.sync();
  await env.settled();
};

it('shows each member its top models, requests and days from one analytics query per sync', async () => {
  const ada = await keyOf('ada');
  for (const model of ['openai/gpt-4o-mini', 'openai/gpt-4o-mini', 'openai/gpt-4o-mini', 'openai/gpt-4.1']) expect((await env.chat(ada, model)).status).toBe(200);
  expect((await env.chat(await keyOf('bob'), 'anthropic/claude-sonnet-4')).status).toBe(200);
  const q0 = calls('POST /api/v1/analytics/query');
  await sync();
  expect(calls('POST /api/v1/analytics/query') - q0).toBe(1);

  const a = await eventually(async () => {
    const m = await env.member(ns, 'ada');
    return m.status?.usage?.requests === 4 ? m : undefined;
  }, 10_000, 'ada shows 4 requests');
  const today = new Date(env.clock.now()).toISOString().slice(0, 10);
  const u = a.status?.usage;
  // OpenRouter names models by permaslug (their dated ids), sends counts as strings: read as numbers
  expect(u?.models?.map((m) => [m.model, m.requests])).toEqual([['openai/gpt-4.1-2025-04-14', 1], ['openai/gpt-4o-mini-2024-07-18', 3]]);
  expect(u?.models?.reduce((s, m) => s + m.usd, 0)).toBeCloseTo(u?.windowUSD ?? -1, 6);
  expect(u?.days).toEqual([{ date: today, usd: u?.windowUSD, requests: 4 }]);
  expect(u?.analyzedAt).toBeDefined();
  expect(u?.forecast?.burnUSDPerDay).toBeGreaterThan(0);
  const p = await eventually(async () => {
    const v = await getPolicy();
    return v.status?.requestsThisWindow === 5 ? v : undefined;
  }, 10_000, 'policy counts 5 requests');
  expect(p.status?.spendByModel?.map((m) => m.model)).toEqual(['anthropic/claude-4-sonnet-20250522', 'openai/gpt-4.1-2025-04-14', 'openai/gpt-4o-mini-2024-07-18']);
  const metrics = await env.op.metrics.registry.metrics();
  expect(metrics).toMatch(new RegExp(`teamkeys_model_requests\\{policy="${policy}",model="openai/gpt-4o-mini-2024-07-18"\\} 3`));
});

it('forecasts the budget running out before the reset, in status, kubectl and metrics', async () => {
  const m = await env.member(ns, 'bob');
  // 4 USD ten days into the month with a limit of 5: at 0.4 USD a day the last dollar lasts about 2.5 days
  env.emu.store.spend(env.emu.store.getKey(m.status?.key?.hash ?? ''), { usd: 4 });
  await sync();
  const bob = await eventually(async () => {
    const b = await env.member(ns, 'bob');
    return b.status?.conditions?.find((c) => c.type === 'BudgetForecast' && c.status === 'True') ? b : undefined;
  }, 10_000, 'bob forecast to run out');
  const at = Date.parse(bob.status?.usage?.forecast?.exhaustsAt ?? '');
  expect(at).toBeGreaterThan(env.clock.now() + DAY);
  expect(at).toBeLessThan(env.clock.now() + 4 * DAY);
  expect(bob.status?.conditions?.find((c) => c.type === 'BudgetForecast')?.reason).toBe('ExhaustsBeforeReset');
  const { stdout } = await env.kubectl(['get', 'tm', 'bob', '-n', ns, '-o', 'wide']);
  expect(stdout).toMatch(/EXHAUSTS-AT/);
  expect(stdout).toContain(bob.status?.usage?.forecast?.exhaustsAt ?? 'missing');
  await eventually(async () => ((await getPolicy()).status?.forecastExhausting === 1) || undefined, 10_000, 'policy counts the forecast');
  const series = new RegExp(`teamkeys_policy_members_forecast_exhausting\\{policy="${policy}"\\} 1`);
  await eventually(async () => series.test(await env.op.metrics.registry.metrics()) || undefined, 5_000, 'forecast metric');
});

it("keeps counting a rotated-away key's requests for its member, and an idle sync writes nothing", async () => {
  const before = (await env.member(ns, 'ada')).status?.key?.hash;
  await env.custom.patchNamespacedCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', namespace: ns, plural: 'teammembers', name: 'ada', body: { metadata: { annotations: { 'teamkeys.dev/rotate': 'r1' } } } }, MERGE);
  await eventually(async () => ((await env.member(ns, 'ada')).status?.key?.hash !== before) || undefined, 20_000, 'ada rotated');
  expect((await env.chat(await keyOf('ada'), 'openai/gpt-4o-mini')).status).toBe(200);
  await sync();
  const ada = await eventually(async () => {
    const m = await env.member(ns, 'ada');
    return m.status?.usage?.requests === 5 ? m : undefined;
  }, 10_000, 'ada counts both keys');
  expect(ada.status?.usage?.models?.find((m) => m.model === 'openai/gpt-4o-mini-2024-07-18')?.requests).toBe(4);

  // the rotated-away key is deleted: OpenRouter no longer resolves it; its rows are kept as last read, beside
  // the new key's, which made one more request
  env.emu.store.deleteKey(before ?? '');
  expect((await env.chat(await keyOf('ada'), 'openai/gpt-4o-mini')).status).toBe(200);
  await sync();
  await eventually(async () => ((await env.member(ns, 'ada')).status?.usage?.requests === 6) || undefined, 10_000, 'ada counts the deleted key and the new request');
  // a fresh operator reads every day again without the deleted key's rows: status keeps what it showed
  await env.startOperator();
  await sync();
  await env.settled();
  const kept = await env.member(ns, 'ada');
  expect(kept.status?.usage?.requests).toBe(6);
  expect(kept.status?.usage?.days?.at(-1)?.requests).toBe(6);

  const rv = async () => Promise.all(['ada', 'bob'].map(async (n) => (await env.member(ns, n)).metadata.resourceVersion));
  await sync();
  const settled = await rv();
  await sync();
  expect(await rv()).toEqual(settled);
});

it('reads usage whatever form the counts come in: numbers, nulls, the created_at__ column; skips a bad row and says so', async () => {
  const before = (await env.member(ns, 'bob')).status?.usage?.requests ?? -1;
  expect((await env.chat(await keyOf('bob'), 'openai/gpt-4.1')).status).toBe(200);
  env.emu.analytics = { ...env.emu.analytics, counts: 'number', nulls: false, timeColumn: 'created_at' };
  await sync();
  await eventually(async () => ((await env.member(ns, 'bob')).status?.usage?.requests === before + 1) || undefined, 10_000, 'bob counts one more request');
  env.emu.analytics = { ...env.emu.analytics, badRows: 1 };
  expect((await env.chat(await keyOf('bob'), 'openai/gpt-4.1')).status).toBe(200);
  await sync();
  const events = await eventually(async () => {
    const list = await env.core.listEventForAllNamespaces({ fieldSelector: 'reason=AnalyticsRowsSkipped' });
    return list.items.length > 0 ? list.items : undefined;
  }, 10_000, 'an AnalyticsRowsSkipped event');
  expect(events[0]?.message).toMatch(/skipped 1 row\(s\).*request_count/);
  expect(await env.op.metrics.registry.metrics()).toMatch(/teamkeys_analytics_rows_skipped_total 1/);
});

it('leaks no key string into logs, Events or statuses', async () => {
  await expectNoKeyStrings(env, [ns]);
});
