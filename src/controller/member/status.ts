/** Pure: the status a member should show, and the budget Events its change deserves. */
import { TeamMemberStatus, type KeyRef, type TeamMember } from '../../api/schema.ts';
import { toJson } from '../../util/json.ts';
import type { Key } from '../../domain/key.ts';
import { usdShown } from '../../util/money.ts';
import { setCondition, withoutCondition, type ConditionInput } from '../conditions.ts';
import type { EventReason, ReadyReason } from '../reasons.ts';
import { deepEqual } from '../mergepatch.ts';
import type { AnalyticsView } from './analytics.ts';
import { budgetLevel, windowSpend, type DesiredBudget } from './budget.ts';
import { windowStart } from '../../util/windows.ts';
import { forecast } from './forecast.ts';

export interface Outcome {
  ready: boolean;
  reason: ReadyReason;
  message: string;
}

export interface StatusInput {
  member: TeamMember;
  prev: TeamMemberStatus;
  now: string;
  secretName: string;
  key: KeyRef | undefined;
  pendingKey: TeamMemberStatus['pendingKey'];
  keySeq: number | undefined;
  observed: Key | undefined;
  budget: DesiredBudget | undefined;
  /** spend of replaced keys in the current window (see keyLimit) */
  carried: { usd: number; window: string } | undefined;
  warnAtPercent: number;
  outcome: Outcome;
  suspended: boolean;
  expired: boolean;
  /** the next scheduled rotation (policy rotation.every), if any */
  nextRotationAt?: string | undefined;
  /** what previous keys still draining spent in the current window (they count against the member's limit) */
  drainingUSD?: number | undefined;
  /** the Inactive condition, when the policy reaps idle keys (or the member is still marked inactive) */
  inactivity?: ConditionInput | undefined;
  /** the member is paused (its pass runs because it is suspended) */
  paused?: ConditionInput | undefined;
  /** per-model and per-day usage from the last analytics read (undefined: not read yet) */
  analytics?: (AnalyticsView & { at: string }) | undefined;
}

export interface Note {
  type: 'Normal' | 'Warning';
  reason: EventReason;
  message: string;
}

const WINDOW_NAME = { daily: 'day', weekly: 'week', monthly: 'month', never: 'lifetime' } as const;

export function computeStatus(i: StatusInput): { status: TeamMemberStatus; notes: Note[] } {
  const gen = i.member.metadata.generation;
  const notes: Note[] = [];
  let conditions = setCondition(i.prev.conditions, { type: 'Ready', status: i.outcome.ready ? 'True' : 'False', reason: i.outcome.reason, message: i.outcome.message }, gen, i.now);
  conditions = setCondition(conditions, i.suspended
    ? { type: 'Suspended', status: 'True', reason: 'SuspendedBySpec', message: 'spec.suspended is true: the key is disabled at OpenRouter' }
    : { type: 'Suspended', status: 'False', reason: 'Active', message: i.observed?.disabled ? 'spec.suspended is false, but the key is disabled (the Ready condition says why)' : i.observed ? 'the key is enabled' : 'spec.suspended is false' }, gen, i.now);
  conditions = setCondition(conditions, i.expired
    ? { type: 'Expired', status: 'True', reason: 'PastExpiresAt', message: `spec.expiresAt ${i.member.spec.expiresAt ?? ''} has passed: the key no longer works` }
    : { type: 'Expired', status: 'False', reason: 'NotExpired', message: 'the key has not reached its hard end' }, gen, i.now);

  const draining = (i.prev.previousKeys ?? []).filter((p) => p.state === 'Draining');
  conditions = setCondition(conditions, i.pendingKey?.rotation
    ? { type: 'Rotating', status: 'True', reason: 'Issuing', message: `issuing a new key (${i.pendingKey.rotation.trigger})` }
    : draining.length > 0
      ? { type: 'Rotating', status: 'True', reason: 'Draining', message: `the Secret holds the new key; the previous key ${draining.map((p) => p.label).join(', ')} works until ${draining.map((p) => p.retireAt).join(', ')}` }
      : { type: 'Rotating', status: 'False', reason: 'Idle', message: i.nextRotationAt ? `next scheduled rotation at ${i.nextRotationAt}` : 'no rotation in flight' }, gen, i.now);

  if (i.inactivity) conditions = setCondition(conditions, i.inactivity, gen, i.now);
  // a pass that runs is not paused, unless a suspension made it run anyway
  conditions = i.paused ? setCondition(conditions, i.paused, gen, i.now) : (withoutCondition(conditions, 'Paused') ?? []);

  const rotation = i.prev.rotation ?? (i.key ? { count: 0 } : undefined);
  const status: TeamMemberStatus = {
    observedGeneration: gen,
    ...(i.prev.operator ? { operator: i.prev.operator } : {}),
    conditions,
    secretName: i.secretName,
    key: i.key,
    pendingKey: i.pendingKey,
    keySeq: i.keySeq,
    budget: i.prev.budget,
    usage: i.prev.usage,
    ...(rotation ? { rotation: { ...rotation, nextRotationAt: i.nextRotationAt } } : {}),
    previousKeys: i.prev.previousKeys,
    activity: i.prev.activity,
    inactive: i.prev.inactive,
  };

  if (i.budget) {
    const remaining = i.observed?.limitRemainingUSD === undefined ? undefined : usdShown(i.observed.limitRemainingUSD);
    const carried = i.carried && i.carried.usd > 0 ? i.carried : undefined;
    status.budget = {
      limitUSD: i.budget.limitUSD,
      remainingUSD: i.budget.limitUSD === undefined ? undefined : (remaining ?? usdShown(Math.max(0, i.budget.limitUSD - (carried?.usd ?? 0)))),
      reset: i.budget.reset,
      ...(carried ? { carriedUSD: usdShown(carried.usd), carriedWindow: carried.window } : {}),
      ...(i.prev.budget?.retiredKeys ? { retiredKeys: i.prev.budget.retiredKeys } : {}),
    };
  }
  if (i.observed && i.budget) {
    const o = i.observed;
    const spent = usdShown(windowSpend(o, i.budget.reset, i.budget.includeByok) + (i.carried?.usd ?? 0) + (i.drainingUSD ?? 0));
    const values = {
      windowUSD: spent,
      dailyUSD: usdShown(o.usage.daily),
      weeklyUSD: usdShown(o.usage.weekly),
      monthlyUSD: usdShown(o.usage.monthly),
      byokUSD: usdShown(o.byok.total),
      lifetimeUSD: usdShown(o.usage.total + o.byok.total),
    };
    const p = i.prev.usage;
    // observedAt and analyzedAt move only when a value they date moved, so an idle sync writes nothing
    const moved = !p || !deepEqual({ windowUSD: p.windowUSD, dailyUSD: p.dailyUSD, weeklyUSD: p.weeklyUSD, monthlyUSD: p.monthlyUSD, byokUSD: p.byokUSD, lifetimeUSD: p.lifetimeUSD }, values);
    const seen = i.analytics ? { requests: i.analytics.requests, models: i.analytics.models, days: i.analytics.days } : undefined;
    const analyzedMoved = seen !== undefined && !deepEqual({ requests: p?.requests, models: p?.models, days: p?.days }, seen);
    const usage: NonNullable<TeamMemberStatus['usage']> = {
      ...values,
      observedAt: moved || !p ? i.now : p.observedAt,
      ...(seen ? { ...seen, analyzedAt: analyzedMoved || !p?.analyzedAt ? (i.analytics?.at ?? i.now) : p.analyzedAt } : { requests: p?.requests, models: p?.models, days: p?.days, analyzedAt: p?.analyzedAt }),
    };
    // the forecast is recomputed when spend moved or its verdict flips; otherwise the last one stands (no churn)
    const f = forecast({ spentUSD: spent, limitUSD: i.budget.limitUSD, reset: i.budget.reset, now: Date.parse(i.now), days: usage.days });
    const prevForecast = i.prev.conditions?.find((c) => c.type === 'BudgetForecast');
    const passed = p?.forecast?.exhaustsAt !== undefined && Date.parse(p.forecast.exhaustsAt) <= Date.parse(i.now);
    const recompute = moved || analyzedMoved || passed || !p?.forecast || !prevForecast || prevForecast.status !== f.condition.status || prevForecast.reason !== f.condition.reason;
    usage.forecast = recompute ? f.forecast : p.forecast;
    if (recompute) conditions = setCondition(conditions, f.condition, gen, i.now);
    status.usage = usage;
    const level = budgetLevel(spent, i.budget.limitUSD, i.warnAtPercent);
    const before = budgetLevel(i.prev.usage?.windowUSD ?? 0, i.prev.budget?.limitUSD ?? i.budget.limitUSD, i.warnAtPercent);
    const limit = i.budget.limitUSD ?? 0;
    conditions = setCondition(conditions, level === 'exhausted'
      ? { type: 'BudgetExhausted', status: 'True', reason: 'LimitReached', message: `spent ${spent} of ${limit} USD this ${WINDOW_NAME[i.budget.reset]} window` }
      : { type: 'BudgetExhausted', status: 'False', reason: level === 'warn' ? 'NearLimit' : 'WithinBudget', message: i.budget.limitUSD === undefined ? 'no limit' : `spent ${spent} of ${limit} USD` }, gen, i.now);
    status.conditions = conditions;
    if (level !== before && level === 'exhausted') notes.push({ type: 'Warning', reason: 'BudgetExhausted', message: `spent ${spent} of ${limit} USD: OpenRouter refuses further requests until the ${i.budget.reset} reset` });
    else if (level !== before && level === 'warn') notes.push({ type: 'Warning', reason: 'BudgetWarning', message: `spent ${spent} of ${limit} USD (${i.warnAtPercent}% warning threshold)` });
  }
  if (!i.observed && i.budget && status.usage) status.usage = rolled(status.usage, i.budget, i.carried, Date.parse(i.now));
  return { status: prune(status, i.member.status), notes };
}

type Usage = NonNullable<TeamMemberStatus['usage']>;

/**
 * A member without a key to read (suspended or expired ones keep theirs; an inactive one whose key was deleted,
 * one whose key vanished) shows no spend from windows that have ended since its usage was observed: a window
 * that turned starts at zero, plus what replaced keys carried into it.
 */
export function rolled(u: Usage, budget: DesiredBudget, carried: { usd: number } | undefined, now: number): Usage {
  const seen = Date.parse(u.observedAt);
  const turned = (w: 'daily' | 'weekly' | 'monthly') => windowStart(w, seen) !== windowStart(w, now);
  const next = {
    dailyUSD: turned('daily') ? 0 : u.dailyUSD,
    weeklyUSD: turned('weekly') ? 0 : u.weeklyUSD,
    monthlyUSD: turned('monthly') ? 0 : u.monthlyUSD,
    windowUSD: budget.reset !== 'never' && turned(budget.reset) ? usdShown(carried?.usd ?? 0) : u.windowUSD,
  };
  const same = next.dailyUSD === u.dailyUSD && next.weeklyUSD === u.weeklyUSD && next.monthlyUSD === u.monthlyUSD && next.windowUSD === u.windowUSD;
  return same ? u : { ...u, ...next, observedAt: new Date(now).toISOString() };
}

/**
 * Drops undefined fields so deep comparison and merge patches see only what is set, and checks the status against
 * its schema. An idle pass computes the status it read, which was parsed as it was read: that one is returned as
 * it is (the copy and the parse were most of an idle pass's cost).
 */
function prune(v: TeamMemberStatus, read: TeamMemberStatus | undefined): TeamMemberStatus {
  if (read !== undefined && deepEqual(v, read)) return read;
  return TeamMemberStatus.parse(toJson(v));
}
