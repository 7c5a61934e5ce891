/**
 * Pure: what a workspace's budgets allow. A workspace budget caps what all of the workspace's keys spend together
 * in one window; its spend is read from the activity book, so a deleted key's spend still counts.
 */
import { roundUsd } from '../util/money.ts';
import { utcDay, windowStart } from '../util/windows.ts';
import type { ActivityRecord, BudgetInterval, Workspace } from './state.ts';

/** Narrowest first: the order limits must strictly increase in, and the order exhausted windows are named in. */
export const BUDGET_INTERVALS = ['daily', 'weekly', 'monthly', 'lifetime'] as const satisfies readonly BudgetInterval[];

/** What the workspace's keys spent in the current window of each interval (UTC day, week from Monday, month, ever). */
export function workspaceSpend(w: Workspace, activity: readonly ActivityRecord[], now: number): Record<BudgetInterval, number> {
  const today = utcDay(now);
  const from = { daily: today, weekly: utcDay(windowStart('weekly', now)), monthly: utcDay(windowStart('monthly', now)), lifetime: '' };
  const spent: Record<BudgetInterval, number> = { daily: 0, weekly: 0, monthly: 0, lifetime: 0 };
  for (const r of activity) {
    // a row dated after today was recorded before the clock was moved back, as windowsOf skips it for keys
    if (r.workspaceId !== w.id || r.date > today) continue;
    const usd = r.usage + (w.includeByokInBudgets === true ? r.byok : 0);
    for (const i of BUDGET_INTERVALS) if (r.date >= from[i]) spent[i] += usd;
  }
  for (const i of BUDGET_INTERVALS) spent[i] = roundUsd(spent[i]);
  return spent;
}

/** The narrowest window whose budget is spent (a request is refused once spend reaches the limit), or undefined. */
export function exhaustedWindow(w: Workspace, activity: readonly ActivityRecord[], now: number): BudgetInterval | undefined {
  const budgets = w.budgets ?? {};
  if (BUDGET_INTERVALS.every((i) => budgets[i] === undefined)) return undefined;
  const spent = workspaceSpend(w, activity, now);
  return BUDGET_INTERVALS.find((i) => {
    const b = budgets[i];
    return b !== undefined && spent[i] >= b.limitUsd;
  });
}

/**
 * Why a set of limits is refused: OpenRouter wants them to strictly decrease as the window narrows (lifetime >
 * monthly > weekly > daily), among the windows that have one. Undefined when they do.
 */
export function orderingError(limits: Partial<Record<BudgetInterval, number>>): string | undefined {
  let narrower: { interval: BudgetInterval; limit: number } | undefined;
  for (const interval of BUDGET_INTERVALS) {
    const limit = limits[interval];
    if (limit === undefined) continue;
    if (narrower && limit <= narrower.limit) {
      return `budget limits must strictly decrease as the interval narrows (lifetime > monthly > weekly > daily): ${interval} ${limit} is not above ${narrower.interval} ${narrower.limit}`;
    }
    narrower = { interval, limit };
  }
  return undefined;
}
