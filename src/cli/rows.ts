/**
 * Pure: one report row per TeamMember, read from its status alone, the totals, and the sort orders. Unknown
 * figures stay null (never 0), so "not measured yet" never reads as "spent nothing".
 */
import type { Condition, ModelSpend, ResetPeriod, TeamMember } from '../api/schema.ts';
import { roundUsd } from '../util/money.ts';
import { spendIn, type Period } from './period.ts';

export const SORT_KEYS = ['cost', 'requests', 'remaining', 'used', 'name'] as const;
export type SortKey = (typeof SORT_KEYS)[number];

export interface ReportRow {
  name: string;
  namespace: string;
  policy: string;
  displayName: string | null;
  email: string | null;
  /** spend and requests in the period; null while status.usage.days was never written (analytics not read) */
  spendUSD: number | null;
  requests: number | null;
  analyzedAt: string | null;
  /** the current reset window */
  windowUSD: number | null;
  limitUSD: number | null;
  remainingUSD: number | null;
  usedPercent: number | null;
  reset: ResetPeriod | null;
  topModel: ModelSpend | null;
  forecast: { burnUSDPerDay: number; projectedUSD: number | null; exhaustsAt: string | null } | null;
  budgetExhausted: boolean;
  ready: { status: string; reason: string; message: string } | null;
}

export interface Totals {
  members: number;
  spendUSD: number;
  requests: number;
  windowUSD: number;
  /** the sum of the limits of members that have one */
  limitUSD: number;
  remainingUSD: number;
  /** members whose spend and requests are unknown (left out of the sums above) */
  membersWithoutAnalytics: number;
  /** members forecast to run out before their window resets */
  forecastExhausting: number;
}

export function condition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

export function rowOf(m: TeamMember, period: Period): ReportRow {
  const s = m.status;
  const usage = s?.usage;
  const spent = spendIn(period, usage?.days);
  const limit = s?.budget?.limitUSD;
  const ready = condition(s?.conditions, 'Ready');
  const f = usage?.forecast;
  return {
    name: m.metadata.name,
    namespace: m.metadata.namespace ?? '',
    policy: m.spec.policy,
    displayName: m.spec.displayName ?? null,
    email: m.spec.email ?? null,
    spendUSD: spent?.usd ?? null,
    requests: spent?.requests ?? null,
    analyzedAt: usage?.analyzedAt ?? null,
    windowUSD: usage?.windowUSD ?? null,
    limitUSD: limit ?? null,
    remainingUSD: s?.budget?.remainingUSD ?? null,
    usedPercent: usedPercent(usage?.windowUSD, limit),
    reset: s?.budget?.reset ?? null,
    topModel: usage?.models?.[0] ?? null,
    forecast: f ? { burnUSDPerDay: f.burnUSDPerDay, projectedUSD: f.projectedUSD ?? null, exhaustsAt: f.exhaustsAt ?? null } : null,
    budgetExhausted: condition(s?.conditions, 'BudgetExhausted')?.status === 'True',
    ready: ready ? { status: ready.status, reason: ready.reason, message: ready.message } : null,
  };
}

/** Window spend as a share of the limit, one decimal; null without a limit (or without a measurement). */
export function usedPercent(windowUSD: number | undefined, limitUSD: number | undefined): number | null {
  if (windowUSD === undefined || limitUSD === undefined) return null;
  if (limitUSD === 0) return windowUSD > 0 ? 100 : 0;
  return Math.round((windowUSD / limitUSD) * 1000) / 10;
}

export function totalsOf(rows: readonly ReportRow[]): Totals {
  const sum = (pick: (r: ReportRow) => number | null) => roundUsd(rows.reduce((s, r) => s + (pick(r) ?? 0), 0));
  return {
    members: rows.length,
    spendUSD: sum((r) => r.spendUSD),
    requests: sum((r) => r.requests),
    windowUSD: sum((r) => r.windowUSD),
    limitUSD: sum((r) => r.limitUSD),
    remainingUSD: sum((r) => r.remainingUSD),
    membersWithoutAnalytics: rows.filter((r) => r.spendUSD === null).length,
    forecastExhausting: rows.filter((r) => r.forecast?.exhaustsAt).length,
  };
}

/** Code-point order: the same on every machine, whatever its locale. */
function text(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Compares two possibly-unknown numbers, unknown always last whatever the direction. */
function byNumber(a: number | null, b: number | null, direction: 1 | -1): number {
  if (a === null || b === null) return (a === null ? 1 : 0) - (b === null ? 1 : 0);
  return (a - b) * direction;
}

/**
 * The sort orders: cost, requests and used biggest first; remaining smallest first (who runs out soonest; no
 * limit last); name alphabetical. Ties fall back to namespace, then name, so output is stable.
 */
export function sortRows(rows: readonly ReportRow[], key: SortKey): ReportRow[] {
  const primary: Record<SortKey, (a: ReportRow, b: ReportRow) => number> = {
    cost: (a, b) => byNumber(a.spendUSD, b.spendUSD, -1),
    requests: (a, b) => byNumber(a.requests, b.requests, -1),
    used: (a, b) => byNumber(a.usedPercent, b.usedPercent, -1),
    remaining: (a, b) => byNumber(a.remainingUSD, b.remainingUSD, 1),
    name: (a, b) => text(a.name, b.name),
  };
  const tie = (a: ReportRow, b: ReportRow) => text(a.namespace, b.namespace) || text(a.name, b.name);
  return rows.toSorted((a, b) => primary[key](a, b) || tie(a, b));
}
