import { describe, expect, it } from 'vitest';
import { analyticsView } from '../../src/controller/member/analytics.ts';
import { forecast } from '../../src/controller/member/forecast.ts';
import { computeStatus, type StatusInput } from '../../src/controller/member/status.ts';
import { policyStatus } from '../../src/controller/policy/reconcile.ts';
import type { TeamMember } from '../../src/api/schema.ts';
import type { UsageRow } from '../../src/domain/usage.ts';
import { aKey } from './keys.ts';

const now = Date.parse('2026-03-11T12:00:00Z'); // a Wednesday
const row = (date: string, model: string, usd: number, requests = 1): UsageRow => ({ key: 'k', model, date, usd, byokUsd: 0, requests });

describe('analyticsView keeps what OpenRouter answers within the CRD bounds', () => {
  it('cuts a model id longer than 200 characters, rounds counts to whole non-negative numbers, skips days that are no calendar day', () => {
    const long = `vendor/${'m'.repeat(300)}`;
    const v = analyticsView([row('2026-03-10', long, 1, 2.6), row('2026-03-10', long, 1, -3), row('2026-02-30', 'x/y', 1, 1), row('2026-03-11', 'x/y', 1, Number.NaN)], 'monthly', now);
    expect(v.models.map((m) => [m.model.length, m.requests])).toEqual([[200, 3], [3, 0]]);
    expect(v.days.map((d) => d.date)).toEqual(['2026-03-10', '2026-03-11']);
    expect(v.requests).toBe(3);
  });
});

describe('analyticsView', () => {
  const rows = [
    row('2026-02-01', 'old/model', 100), // older than the days kept
    row('2026-02-27', 'openai/gpt-4.1', 2, 4),
    row('2026-03-02', 'openai/gpt-4o-mini', 0.5, 10),
    row('2026-03-10', 'openai/gpt-4o-mini', 0.25, 5),
    row('2026-03-11', 'anthropic/claude-sonnet-4', 1, 2),
    row('2026-03-11', 'openai/gpt-4o-mini', 0.25, 5),
    row('2026-03-12', 'future/model', 9), // a day after "now": a skewed clock, left out
  ];

  it('sums the window per model, top first, and keeps the last 31 days oldest first', () => {
    const v = analyticsView(rows, 'monthly', now);
    expect(v.requests).toBe(22);
    expect(v.models).toEqual([
      { model: 'openai/gpt-4o-mini', usd: 1, requests: 20 },
      { model: 'anthropic/claude-sonnet-4', usd: 1, requests: 2 },
    ]);
    expect(v.days).toEqual([
      { date: '2026-02-27', usd: 2, requests: 4 },
      { date: '2026-03-02', usd: 0.5, requests: 10 },
      { date: '2026-03-10', usd: 0.25, requests: 5 },
      { date: '2026-03-11', usd: 1.25, requests: 7 },
    ]);
  });

  it.each([
    ['daily', 7, ['anthropic/claude-sonnet-4', 'openai/gpt-4o-mini']],
    ['weekly', 12, ['anthropic/claude-sonnet-4', 'openai/gpt-4o-mini']],
    ['never', 26, ['openai/gpt-4.1', 'openai/gpt-4o-mini', 'anthropic/claude-sonnet-4']],
  ] as const)('a %s window counts %d requests', (reset, requests, models) => {
    const v = analyticsView(rows, reset, now);
    expect(v.requests).toBe(requests);
    expect(v.models.map((m) => m.model)).toEqual(models);
  });

  it('keeps the five models with the most spend', () => {
    const many = ['a/1', 'a/2', 'a/3', 'a/4', 'a/5', 'a/6', 'a/7'].map((m, i) => row('2026-03-11', m, i + 1));
    expect(analyticsView(many, 'monthly', now).models.map((m) => m.model)).toEqual(['a/7', 'a/6', 'a/5', 'a/4', 'a/3']);
  });
});

describe('forecast', () => {
  const at = (iso: string) => Date.parse(iso);

  it('flags a member burning through the limit before the monthly reset, with the instant', () => {
    // 10 days and 12 hours into March: 21 USD spent is 2 USD a day; 9 USD left runs out in 4.5 days
    const f = forecast({ spentUSD: 21, limitUSD: 30, reset: 'monthly', now });
    expect(f.forecast).toEqual({ burnUSDPerDay: 2, projectedUSD: 62, exhaustsAt: '2026-03-16T00:00:00.000Z' });
    expect(f.condition).toMatchObject({ type: 'BudgetForecast', status: 'True', reason: 'ExhaustsBeforeReset' });
    expect(f.condition.message).toBe('at 2 USD a day the limit of 30 USD runs out at 2026-03-16T00:00:00.000Z, before the reset at 2026-04-01T00:00:00.000Z');
  });

  it('is quiet when the window ends within the limit, without a limit, at the limit, and without spend', () => {
    expect(forecast({ spentUSD: 10.5, limitUSD: 100, reset: 'monthly', now }).condition).toMatchObject({ status: 'False', reason: 'WithinBudget' });
    expect(forecast({ spentUSD: 10.5, limitUSD: undefined, reset: 'monthly', now }).condition).toMatchObject({ status: 'False', reason: 'NoLimit' });
    expect(forecast({ spentUSD: 30, limitUSD: 30, reset: 'monthly', now }).condition).toMatchObject({ status: 'False', reason: 'LimitReached' });
    expect(forecast({ spentUSD: 0, limitUSD: 30, reset: 'monthly', now }).condition).toMatchObject({ status: 'False', reason: 'WithinBudget' });
  });

  it('counts at least an hour, so a first request a minute into the window is not extrapolated wildly', () => {
    const f = forecast({ spentUSD: 0.1, limitUSD: 5, reset: 'daily', now: at('2026-03-11T00:01:00Z') });
    expect(f.forecast.burnUSDPerDay).toBe(2.4);
    expect(f.condition.status).toBe('False');
  });

  it('burns a lifetime budget at its last week rate and flags it within a week', () => {
    const days = [{ date: '2026-03-01', usd: 50, requests: 1 }, { date: '2026-03-08', usd: 7, requests: 1 }, { date: '2026-03-11', usd: 7, requests: 1 }];
    const f = forecast({ spentUSD: 90, limitUSD: 100, reset: 'never', now, days });
    expect(f.forecast).toEqual({ burnUSDPerDay: 2, exhaustsAt: '2026-03-16T12:00:00.000Z' });
    expect(f.condition).toMatchObject({ status: 'True', reason: 'ExhaustsWithinAWeek' });
    expect(forecast({ spentUSD: 10, limitUSD: 100, reset: 'never', now, days }).condition.status).toBe('False');
  });
});

describe('status with analytics and forecast', () => {
  const member: TeamMember = { apiVersion: 'teamkeys.dev/v1alpha1', kind: 'TeamMember', metadata: { name: 'a', namespace: 'n', uid: 'u', generation: 1 }, spec: { policy: 'p', suspended: false } };
  const spent = (usd: number) => aKey('h', { limitUSD: 30, limitRemainingUSD: Math.max(0, 30 - usd), usage: { daily: usd, weekly: usd, monthly: usd, total: usd } });
  const input = (over: Partial<StatusInput>): StatusInput => ({
    member, prev: {}, now: new Date(now).toISOString(), secretName: 's', key: undefined, pendingKey: undefined, keySeq: 1,
    observed: spent(21), budget: { limitUSD: 30, reset: 'monthly', includeByok: false }, carried: undefined, warnAtPercent: 80,
    outcome: { ready: true, reason: 'KeyReady', message: 'ok' }, suspended: false, expired: false, ...over,
  });
  const analytics = { ...analyticsView([row('2026-03-11', 'openai/gpt-4o-mini', 21, 40)], 'monthly', now), at: '2026-03-11T12:00:00.000Z' };

  it('shows requests, top models, days and the forecast; BudgetForecast says when', () => {
    const s = computeStatus(input({ analytics })).status;
    expect(s.usage).toMatchObject({ requests: 40, models: [{ model: 'openai/gpt-4o-mini', usd: 21, requests: 40 }], days: [{ date: '2026-03-11', usd: 21, requests: 40 }], analyzedAt: analytics.at, forecast: { exhaustsAt: '2026-03-16T00:00:00.000Z' } });
    expect(s.conditions?.find((c) => c.type === 'BudgetForecast')).toMatchObject({ status: 'True', reason: 'ExhaustsBeforeReset' });
  });

  it('writes nothing new while spend and the verdict stand still, and recomputes when the forecast instant passes', () => {
    const first = computeStatus(input({ analytics })).status;
    const hourLater = new Date(now + 3_600_000).toISOString();
    expect(computeStatus(input({ prev: first, now: hourLater, analytics: { ...analytics, at: hourLater } })).status).toEqual(first);
    // no more spend: on the 17th the old instant has passed, and the slower rate moves it to the 23rd (up to the minute)
    const s17 = computeStatus(input({ prev: first, now: '2026-03-17T00:00:00.000Z', analytics })).status;
    expect(s17.usage?.forecast?.exhaustsAt).toBe('2026-03-23T20:35:00.000Z');
    // by the 23rd the rate says the month ends within the limit
    const later = '2026-03-23T00:00:00.000Z';
    const s = computeStatus(input({ prev: s17, now: later, analytics: { ...analytics, at: later } })).status;
    expect(s.usage?.forecast?.exhaustsAt).toBeUndefined();
    expect(s.conditions?.find((c) => c.type === 'BudgetForecast')).toMatchObject({ status: 'False', reason: 'WithinBudget', lastTransitionTime: later });
  });

  it('keeps the last analytics while a read fails', () => {
    const first = computeStatus(input({ analytics })).status;
    const s = computeStatus(input({ prev: first, now: new Date(now + 60_000).toISOString() })).status;
    expect(s.usage?.models).toEqual(first.usage?.models);
    expect(s.usage?.analyzedAt).toBe(analytics.at);
  });

  it('rolls up per model and counts forecasts on the policy', () => {
    const m1 = { ...member, status: computeStatus(input({ analytics })).status };
    const m2 = { ...member, metadata: { ...member.metadata, name: 'b', uid: 'v' }, status: computeStatus(input({ observed: spent(1), analytics: { ...analyticsView([row('2026-03-11', 'openai/gpt-4o-mini', 1, 2), row('2026-03-11', 'openai/gpt-4.1', 3, 1)], 'monthly', now), at: analytics.at } })).status };
    const p = policyStatus('p', 1, {}, undefined, [m1, m2], undefined, analytics.at);
    expect(p).toMatchObject({ requestsThisWindow: 43, forecastExhausting: 1, spendByModel: [{ model: 'openai/gpt-4o-mini', usd: 22, requests: 42 }, { model: 'openai/gpt-4.1', usd: 3, requests: 1 }] });
  });
});
