/**
 * Pure: the spend of a member's replaced keys, so a replacement never hands out a second budget (invariant 3).
 * Each retired key is recorded once, by hash, with its spend per UTC window as OpenRouter counted it when it
 * retired; what counts against the active key is recomputed for the current reset period. Recording is
 * idempotent (a retry overwrites, never adds) and survives a change of the reset period mid-window.
 */
import type { ResetPeriod } from '../../api/schema.ts';
import { spendIn, type Key, type Spend } from '../../domain/key.ts';
import { roundUsd } from '../../util/money.ts';
import { windowStart } from '../../util/windows.ts';

export interface RetiredKey {
  hash: string;
  /** when its spend was read; the windows it counts in are the ones containing this instant */
  retiredAt: string;
  usage: Spend;
  byok: Spend;
}

/** Entries older than the longest window only ever count for a lifetime budget: their totals are folded into one. */
const FOLD_AFTER_MS = 32 * 86_400_000;
const EARLIER = 'earlier';

export function retiredFromKey(k: Key, at: number): RetiredKey {
  return { hash: k.hash, retiredAt: new Date(at).toISOString(), usage: k.usage, byok: k.byok };
}

/** A key that can no longer be read (deleted outside): its spend as last observed in the member's status. */
export function retiredFromObserved(hash: string, u: { dailyUSD: number; weeklyUSD: number; monthlyUSD: number; byokUSD: number; lifetimeUSD: number; observedAt: string }): RetiredKey {
  return {
    hash,
    retiredAt: u.observedAt,
    usage: { daily: u.dailyUSD, weekly: u.weeklyUSD, monthly: u.monthlyUSD, total: roundUsd(u.lifetimeUSD - u.byokUSD) },
    // BYOK spend per window is not in the status: only its lifetime total is known
    byok: { daily: 0, weekly: 0, monthly: 0, total: u.byokUSD },
  };
}

/** Adds or refreshes one retired key; folds entries too old to count in any window but a lifetime one. */
export function withRetired(list: readonly RetiredKey[], entry: RetiredKey, now: number): RetiredKey[] {
  const all = [...list.filter((r) => r.hash !== entry.hash), entry];
  const stale = all.filter((r) => r.hash !== EARLIER && now - Date.parse(r.retiredAt) > FOLD_AFTER_MS);
  if (stale.length === 0) return all;
  const folded = all.filter((r) => r.hash === EARLIER || stale.includes(r));
  const total = (pick: (r: RetiredKey) => number) => roundUsd(folded.reduce((s, r) => s + pick(r), 0));
  const none = { daily: 0, weekly: 0, monthly: 0 };
  const earlier: RetiredKey = {
    hash: EARLIER,
    retiredAt: new Date(0).toISOString(),
    usage: { ...none, total: total((r) => r.usage.total) },
    byok: { ...none, total: total((r) => r.byok.total) },
  };
  return [earlier, ...all.filter((r) => !folded.includes(r))];
}

/** What retired keys spent in the window of `reset` that contains `now`. */
export function carriedSpend(list: readonly RetiredKey[] | undefined, reset: ResetPeriod, includeByok: boolean, now: number): number {
  let sum = 0;
  for (const r of list ?? []) {
    const at = Date.parse(r.retiredAt);
    if (reset !== 'never' && windowStart(reset, at) !== windowStart(reset, now)) continue;
    sum += spendIn(r, reset, includeByok);
  }
  return roundUsd(sum);
}
