/** Pure: what a member's analytics rows (every key it had, per model and UTC day) show in its status. */
import { TOP_MODELS_MAX, USAGE_DAYS_MAX, type DaySpend, type ModelSpend, type ResetPeriod, type TeamMemberStatus } from '../../api/schema.ts';
import type { UsageRow } from '../../domain/usage.ts';
import { usdShown } from '../../util/money.ts';
import { utcDay, windowStart } from '../../util/windows.ts';

const DAY_MS = 86_400_000;
/** status.usage.models[].model's bound in the CRD: a longer id from OpenRouter is cut, its totals kept. */
const MODEL_ID_MAX = 200;
/** A request count as the CRD holds it: a whole number, never negative, whatever an answer said. */
const count = (n: number) => (Number.isFinite(n) ? Math.max(0, Math.round(n)) : 0);

export interface AnalyticsView {
  /** requests in the current reset window (never: the days kept) */
  requests: number;
  /** the window's top models by spend */
  models: ModelSpend[];
  /** the last USAGE_DAYS_MAX UTC days with requests, oldest first */
  days: DaySpend[];
}

function realDay(date: string): boolean {
  const t = Date.parse(`${date}T00:00:00Z`);
  return !Number.isNaN(t) && utcDay(t) === date;
}

/**
 * What the last status showed, for days a read after an operator restart no longer has: OpenRouter stops
 * resolving a deleted key, and the operator keeps a vanished key's rows only while it runs (usagebook.ts). The
 * caller passes it only when the status was computed on the same basis (reset, includeByok).
 */
export interface KeptAnalytics {
  models?: readonly ModelSpend[] | undefined;
  days?: readonly DaySpend[] | undefined;
  analyzedAt?: string | undefined;
}

/** The last status's analytics, when they were computed on the basis this pass uses (else nothing is kept). */
export function keptAnalytics(prev: TeamMemberStatus | undefined, basis: { reset: ResetPeriod; includeByok: boolean }): KeptAnalytics | undefined {
  if (prev?.budget?.reset !== basis.reset || prev.key?.includeByok !== basis.includeByok) return undefined;
  return prev.usage;
}

/**
 * `includeByok`: whether the member's limit counts BYOK spend; OpenRouter's total_usage always includes it, so it
 * is taken out when the limit does not count it. A day's spend only grows, so a day the last status showed larger
 * than this read keeps the larger value; the window's requests are the sum of its days. The top models of the
 * same window keep the larger of the two per model (a restart can lose a deleted key's share of a model).
 */
export function analyticsView(rows: readonly UsageRow[], reset: ResetPeriod, now: number, includeByok = true, kept?: KeptAnalytics): AnalyticsView {
  const firstDay = utcDay(now - (USAGE_DAYS_MAX - 1) * DAY_MS);
  const windowDay = reset === 'never' ? firstDay : utcDay(windowStart(reset, now));
  const today = utcDay(now);
  const days = new Map<string, { usd: number; requests: number }>();
  const models = new Map<string, { usd: number; requests: number }>();
  const inRange = (date: string) => date >= firstDay && date <= today && realDay(date);
  for (const r of rows) {
    // a day that is no calendar day (2026-02-30) would sort among real ones and stretch the list past its bound
    if (!inRange(r.date)) continue;
    const usd = includeByok ? r.usd : Math.max(0, r.usd - r.byokUsd);
    const d = days.get(r.date) ?? { usd: 0, requests: 0 };
    d.usd += usd;
    d.requests += count(r.requests);
    days.set(r.date, d);
    if (r.date < windowDay) continue;
    const model = (r.model ?? 'unknown').slice(0, MODEL_ID_MAX);
    const m = models.get(model) ?? { usd: 0, requests: 0 };
    m.usd += usd;
    m.requests += count(r.requests);
    models.set(model, m);
  }
  const larger = (into: Map<string, { usd: number; requests: number }>, id: string, v: { usd: number; requests: number }) => {
    const n = into.get(id);
    into.set(id, { usd: Math.max(n?.usd ?? 0, v.usd), requests: Math.max(n?.requests ?? 0, count(v.requests)) });
  };
  for (const d of kept?.days ?? []) if (inRange(d.date)) larger(days, d.date, d);
  const analyzed = kept?.analyzedAt === undefined ? Number.NaN : Date.parse(kept.analyzedAt);
  const sameWindow = !Number.isNaN(analyzed) && analyzed <= now && (reset === 'never'
    // "never" shows the days kept, a range that moves daily: what the last status showed holds for its day only
    ? utcDay(analyzed) === today
    : windowStart(reset, analyzed) === windowStart(reset, now));
  if (sameWindow) for (const m of kept?.models ?? []) larger(models, m.model, m);
  let requests = 0;
  for (const [date, d] of days) if (date >= windowDay) requests += d.requests;
  return {
    requests,
    models: rankModels(models, TOP_MODELS_MAX),
    days: [...days]
      .filter(([, d]) => d.requests > 0 || d.usd > 0)
      .map(([date, d]) => ({ date, usd: usdShown(d.usd), requests: d.requests }))
      .toSorted((a, b) => a.date.localeCompare(b.date))
      .slice(-USAGE_DAYS_MAX),
  };
}

/** The `max` models with the most spend (then requests, then name), rounded as status shows dollars. */
export function rankModels(models: ReadonlyMap<string, { usd: number; requests: number }>, max: number): ModelSpend[] {
  return [...models]
    .map(([model, m]) => ({ model, usd: usdShown(m.usd), requests: m.requests }))
    .toSorted((a, b) => b.usd - a.usd || b.requests - a.requests || a.model.localeCompare(b.model))
    .slice(0, max);
}

/** Adds one member's top models into running totals per model. */
export function addModels(into: Map<string, { usd: number; requests: number }>, models: readonly ModelSpend[] | undefined): void {
  for (const x of models ?? []) {
    const e = into.get(x.model) ?? { usd: 0, requests: 0 };
    e.usd += x.usd;
    e.requests += x.requests;
    into.set(x.model, e);
  }
}
