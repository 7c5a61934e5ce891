/**
 * Pure: the spend of a member's replaced keys, so a replacement never hands out a second budget (invariant 3).
 * Each retired key is recorded once, by hash, with its spend per UTC window as OpenRouter counted it when it
 * retired; what counts against the active key is recomputed for the current reset period. Recording is
 * idempotent (a retry overwrites, never adds) and survives a change of the reset period mid-window. The list is
 * bounded (RETIRED_KEYS_MAX) without losing money: entries of one UTC day count in exactly the same windows, so
 * the oldest are merged by day, and entries older than the longest window fold into one lifetime total.
 */
import { RETIRED_KEYS_MAX, type ResetPeriod } from '../../api/schema.ts';
import { spendIn, type Key, type Spend } from '../../domain/key.ts';
import { roundUsd } from '../../util/money.ts';
import { startOfUtcDay, utcDay, windowStart } from '../../util/windows.ts';

export interface RetiredKey {
  hash: string;
  /** when its spend was read; the windows it counts in are the ones containing this instant */
  retiredAt: string;
  usage: Spend;
  byok: Spend;
  /** what it spent during a rotation overlap (see overlapCounts) */
  overlapUSD?: number | undefined;
}

/** Entries older than the longest window only ever count for a lifetime budget: their totals are folded into one. */
const FOLD_AFTER_MS = 32 * 86_400_000;
const EARLIER = 'earlier';
const MERGED = 'day:';

/**
 * How far OpenRouter's clock may be off the operator's, either way. A window turns at OpenRouter up to this much
 * before it turns here (what a key spent in its overlap may already belong to the next window there), or after
 * (a key read just after our boundary may still show the last window's spend there).
 */
export const CLOCK_MARGIN_MS = 15 * 60_000;

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

/**
 * Adds or refreshes one retired key. An estimate (`fresh: false`, from an old observation) never replaces an
 * entry already recorded for that key, which was read when it retired: a retry must not swap fresh for stale.
 */
export function withRetired(list: readonly RetiredKey[], entry: RetiredKey, now: number, fresh = true): RetiredKey[] {
  if (!fresh && list.some((r) => r.hash === entry.hash)) return [...list];
  return bounded([...list.filter((r) => r.hash !== entry.hash), entry], now);
}

const sumSpend = (a: Spend, b: Spend): Spend => ({ daily: roundUsd(a.daily + b.daily), weekly: roundUsd(a.weekly + b.weekly), monthly: roundUsd(a.monthly + b.monthly), total: roundUsd(a.total + b.total) });
const NONE: Spend = { daily: 0, weekly: 0, monthly: 0, total: 0 };

/** Folds entries past every window into one lifetime total, then merges the oldest by UTC day until it fits. */
function bounded(all: RetiredKey[], now: number): RetiredKey[] {
  const stale = all.filter((r) => r.hash !== EARLIER && now - Date.parse(r.retiredAt) > FOLD_AFTER_MS);
  let list = all;
  if (stale.length > 0) {
    const folded = all.filter((r) => r.hash === EARLIER || stale.includes(r));
    const earlier: RetiredKey = {
      hash: EARLIER,
      retiredAt: new Date(0).toISOString(),
      usage: { ...NONE, total: roundUsd(folded.reduce((s, r) => s + r.usage.total, 0)) },
      byok: { ...NONE, total: roundUsd(folded.reduce((s, r) => s + r.byok.total, 0)) },
    };
    list = [earlier, ...all.filter((r) => !folded.includes(r))];
  }
  // at most 33 UTC days remain after folding, so merging by day always fits the bound
  while (list.length > RETIRED_KEYS_MAX) {
    const byAge = list.filter((r) => r.hash !== EARLIER).toSorted((a, b) => Date.parse(a.retiredAt) - Date.parse(b.retiredAt));
    const pair = byAge.findIndex((r, i) => i + 1 < byAge.length && utcDay(Date.parse(r.retiredAt)) === utcDay(Date.parse(byAge[i + 1]?.retiredAt ?? '')));
    const a = byAge[pair];
    const b = byAge[pair + 1];
    if (!a || !b) break;
    list = [...list.filter((r) => r !== a && r !== b), merge(a, b)];
  }
  return list;
}

/**
 * Two entries of one UTC day count in exactly the same windows: their sum, dated at the later one. Their overlap
 * spend is summed too: counted in the next window only if the later one retired near its boundary, which can
 * count more than the earlier one spent there, never less.
 */
function merge(a: RetiredKey, b: RetiredKey): RetiredKey {
  const day = startOfUtcDay(Date.parse(b.retiredAt));
  return {
    hash: `${MERGED}${utcDay(day)}`,
    retiredAt: b.retiredAt,
    usage: sumSpend(a.usage, b.usage),
    byok: sumSpend(a.byok, b.byok),
    ...(b.overlapUSD || a.overlapUSD ? { overlapUSD: roundUsd((a.overlapUSD ?? 0) + (b.overlapUSD ?? 0)) } : {}),
  };
}

/**
 * Whether a key retired at `at` spent its overlap partly in OpenRouter's next window, which begins here at or
 * after `now`'s window: the window containing `now` started after `at`, but no later than the margin after it.
 */
function overlapCounts(reset: Exclude<ResetPeriod, 'never'>, at: number, now: number): boolean {
  const start = windowStart(reset, now);
  return start > at && start <= at + CLOCK_MARGIN_MS;
}

/** What retired keys spent in the window of `reset` that contains `now`. */
export function carriedSpend(list: readonly RetiredKey[] | undefined, reset: ResetPeriod, includeByok: boolean, now: number): number {
  let sum = 0;
  for (const r of list ?? []) {
    const at = Date.parse(r.retiredAt);
    if (reset === 'never' || windowStart(reset, at) === windowStart(reset, now)) sum += spendIn(r, reset, includeByok);
    else if (r.overlapUSD && overlapCounts(reset, at, now)) sum += r.overlapUSD;
  }
  return roundUsd(sum);
}

/**
 * A draining key retired at `at`, rotated away from at `rotatedAt`, having spent `overlapUSD` since. Read just
 * after one of our windows turned (and it was rotated in the window before), OpenRouter's window may not have
 * turned yet: its figure for that window may be the last one's there. Of it, only what it spent in its overlap can
 * belong to the new window.
 */
export function retiredFromDraining(k: Key, at: number, rotatedAt: number, overlapUSD: number): RetiredKey {
  const cap = (s: Spend): Spend => {
    const out = { ...s };
    for (const w of ['daily', 'weekly', 'monthly'] as const) {
      const start = windowStart(w, at);
      if (windowStart(w, rotatedAt) !== start && at - start < CLOCK_MARGIN_MS) out[w] = Math.min(out[w], overlapUSD);
    }
    return out;
  };
  return { hash: k.hash, retiredAt: new Date(at).toISOString(), usage: cap(k.usage), byok: cap(k.byok), overlapUSD };
}
