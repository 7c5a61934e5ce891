/**
 * Pure: what a policy's pooled budget shows — per window its cap, the members' spend and what is left, the
 * tightest window in short (the POOL column), which layer refuses first, and the PoolBudget condition.
 */
import type { ResolvedPolicy } from '../../api/policy.ts';
import { POOL_WINDOW_NAMES, type PoolStatus, type PoolWindow, type TeamMember } from '../../api/schema.ts';
import { usdShown } from '../../util/money.ts';
import type { ConditionInput } from '../conditions.ts';

/** A member's spend in a pool window, from its status (BYOK only in the lifetime figure, and only when counted). */
function spendIn(m: TeamMember, w: PoolWindow, includeByok: boolean): number {
  const u = m.status?.usage;
  if (!u) return 0;
  switch (w) {
    case 'daily':
      return u.dailyUSD;
    case 'weekly':
      return u.weeklyUSD;
    case 'monthly':
      return u.monthlyUSD;
    case 'lifetime':
      return includeByok ? u.lifetimeUSD : u.lifetimeUSD - u.byokUSD;
  }
}

export function poolStatus(r: ResolvedPolicy, using: readonly TeamMember[]): { status: PoolStatus; condition: ConditionInput } | undefined {
  const pool = r.pool;
  if (!pool) return undefined;
  const windows = POOL_WINDOW_NAMES.flatMap((w) => {
    const limit = pool.limits[w];
    if (limit === undefined) return [];
    const spend = usdShown(using.reduce((sum, m) => sum + spendIn(m, w, pool.includeByok), 0));
    return [{ window: w, limitUSD: limit, spendUSD: spend, remainingUSD: usdShown(Math.max(0, limit - spend)) }];
  });
  // the window with the least left refuses first; of equals, the narrowest
  const tightest = windows.reduce((a, b) => (b.remainingUSD < a.remainingUSD ? b : a));
  // what the members' own limits would still let them spend together (a member without a cap: no bound)
  const membersRoom = using.reduce((sum, m) => sum + (m.status?.budget?.limitUSD === undefined ? Number.POSITIVE_INFINITY : (m.status.budget.remainingUSD ?? 0)), 0);
  const status: PoolStatus = {
    includeByok: pool.includeByok,
    windows,
    shown: `${tightest.spendUSD.toFixed(2)}/${tightest.limitUSD} ${tightest.window}`,
    refusesFirst: membersRoom > tightest.remainingUSD ? 'Pool' : 'Members',
  };
  const pct = (w: (typeof windows)[number]) => (w.limitUSD > 0 ? (100 * w.spendUSD) / w.limitUSD : 100);
  const spent = windows.find((w) => w.remainingUSD <= 0);
  const near = windows.find((w) => pct(w) >= r.warnAtPercent);
  const condition: ConditionInput = spent
    ? { type: 'PoolBudget', status: 'True', reason: 'Exhausted', message: `the pool's ${spent.window} budget ($${spent.limitUSD}) is spent: OpenRouter refuses every key of the policy's workspace until it resets` }
    : near
      ? { type: 'PoolBudget', status: 'False', reason: 'NearLimit', message: `the pool's ${near.window} budget is ${Math.floor(pct(near))}% spent ($${near.spendUSD} of $${near.limitUSD})` }
      : { type: 'PoolBudget', status: 'False', reason: 'WithinBudget', message: `tightest window: ${status.shown}` };
  return { status, condition };
}
