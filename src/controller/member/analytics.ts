/** Pure: what a member's analytics rows (every key it had, per model and UTC day) show in its status. */
import { TOP_MODELS_MAX, USAGE_DAYS_MAX, type DaySpend, type ModelSpend, type ResetPeriod } from '../../api/schema.ts';
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

export function analyticsView(rows: readonly UsageRow[], reset: ResetPeriod, now: number): AnalyticsView {
  const firstDay = utcDay(now - (USAGE_DAYS_MAX - 1) * DAY_MS);
  const windowDay = reset === 'never' ? firstDay : utcDay(windowStart(reset, now));
  const today = utcDay(now);
  const days = new Map<string, { usd: number; requests: number }>();
  const models = new Map<string, { usd: number; requests: number }>();
  let requests = 0;
  for (const r of rows) {
    // a day that is no calendar day (2026-02-30) would sort among real ones and stretch the list past its bound
    if (r.date < firstDay || r.date > today || !realDay(r.date)) continue;
    const d = days.get(r.date) ?? { usd: 0, requests: 0 };
    d.usd += r.usd;
    d.requests += count(r.requests);
    days.set(r.date, d);
    if (r.date < windowDay) continue;
    requests += count(r.requests);
    const model = r.model.slice(0, MODEL_ID_MAX);
    const m = models.get(model) ?? { usd: 0, requests: 0 };
    m.usd += r.usd;
    m.requests += count(r.requests);
    models.set(model, m);
  }
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
