/**
 * Pure: when a member's budget runs out at the burn rate of its current window, and whether that is before the
 * window resets (the BudgetForecast condition). A lifetime budget (reset never) burns at its last week's rate and
 * is flagged when it runs out within a week.
 */
import type { DaySpend, ResetPeriod } from '../../api/schema.ts';
import { usdShown } from '../../util/money.ts';
import { nextReset, utcDay, windowStart } from '../../util/windows.ts';
import type { ConditionInput } from '../conditions.ts';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const WEEK_MS = 7 * DAY_MS;

export interface Forecast {
  burnUSDPerDay: number;
  projectedUSD?: number | undefined;
  exhaustsAt?: string | undefined;
}

export interface ForecastInput {
  /** what counts against the limit in the current window */
  spentUSD: number;
  limitUSD: number | undefined;
  reset: ResetPeriod;
  now: number;
  /** per-day spend (analytics); only a lifetime budget needs it */
  days?: readonly DaySpend[] | undefined;
}

/** To the minute: a forecast that moves by seconds is not worth a status write. */
const minute = (ms: number) => new Date(Math.floor(ms / 60_000) * 60_000).toISOString();
/**
 * Up to the minute for the instant money runs out: still ahead of now when it is seconds away, so the next pass does
 * not find it passed and recompute (and rewrite) the forecast at every pass.
 */
const minuteUp = (ms: number) => new Date(Math.ceil(ms / 60_000) * 60_000).toISOString();

export function forecast(i: ForecastInput): { forecast: Forecast; condition: ConditionInput } {
  const type = 'BudgetForecast';
  let perMs: number;
  let end: number | undefined;
  if (i.reset === 'never') {
    const since = utcDay(i.now - WEEK_MS + DAY_MS);
    perMs = (i.days ?? []).filter((d) => d.date >= since).reduce((s, d) => s + d.usd, 0) / WEEK_MS;
  } else {
    const start = windowStart(i.reset, i.now);
    end = nextReset(i.reset, i.now);
    // an hour at least: a first request a minute into the window is not a rate of 60 per hour
    perMs = i.spentUSD / Math.max(i.now - start, HOUR_MS);
  }
  const burn = usdShown(perMs * DAY_MS);
  const f: Forecast = { burnUSDPerDay: burn, ...(end === undefined ? {} : { projectedUSD: usdShown(i.spentUSD + perMs * (end - i.now)) }) };
  if (i.limitUSD === undefined) return { forecast: f, condition: { type, status: 'False', reason: 'NoLimit', message: 'no limit to run out of' } };
  if (i.spentUSD >= i.limitUSD) return { forecast: f, condition: { type, status: 'False', reason: 'LimitReached', message: `the limit of ${i.limitUSD} USD is already reached (see BudgetExhausted)` } };
  if (perMs <= 0) return { forecast: f, condition: { type, status: 'False', reason: 'WithinBudget', message: 'no spend to extrapolate' } };
  const at = i.now + (i.limitUSD - i.spentUSD) / perMs;
  const horizon = end ?? i.now + WEEK_MS;
  if (at >= horizon) {
    return {
      forecast: f,
      condition: { type, status: 'False', reason: 'WithinBudget', message: end === undefined ? `at ${burn} USD a day the limit of ${i.limitUSD} USD lasts beyond a week` : `at ${burn} USD a day the window ends at ${f.projectedUSD} of ${i.limitUSD} USD (reset ${minute(end)})` },
    };
  }
  const exhaustsAt = minuteUp(at);
  return {
    forecast: { ...f, exhaustsAt },
    condition: { type, status: 'True', reason: end === undefined ? 'ExhaustsWithinAWeek' : 'ExhaustsBeforeReset', message: `at ${burn} USD a day the limit of ${i.limitUSD} USD runs out at ${exhaustsAt}${end === undefined ? '' : `, before the reset at ${minute(end)}`}` },
  };
}
