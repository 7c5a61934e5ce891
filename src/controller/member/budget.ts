/**
 * Pure: the member's money. Its budget under the policy, the limit its key gets, the expiry it may have, and the
 * spend of replaced keys carried into the window, so a replacement never hands out a second budget (invariant 3).
 */
import type { ResolvedPolicy } from '../../api/policy.ts';
import { RETIRED_KEYS_MAX, type KeyRef, type PreviousKey, type ResetPeriod, type TeamMemberSpec, type TeamMemberStatus } from '../../api/schema.ts';
import { spendIn, type Key, type Spend } from '../../domain/key.ts';
import { roundUsd } from '../../util/money.ts';
import { startOfUtcDay, utcDay, windowStart } from '../../util/windows.ts';

export interface DesiredBudget {
  limitUSD: number | undefined;
  reset: ResetPeriod;
  includeByok: boolean;
}

export type BudgetDecision = { ok: true; budget: DesiredBudget } | { ok: false; reason: 'LimitAboveMax'; message: string };

/** The member's own limit, when set, must stay within the policy's memberMaxUSD (or its limitUSD without one). */
export function effectiveBudget(spec: TeamMemberSpec, policy: ResolvedPolicy): BudgetDecision {
  const b = policy.budget;
  const { reset, includeByok } = b;
  if (spec.limitUSD !== undefined) {
    const max = b.memberMaxUSD ?? b.limitUSD;
    if (max !== undefined && spec.limitUSD > max) {
      return { ok: false, reason: 'LimitAboveMax', message: `spec.limitUSD ${spec.limitUSD} is above the policy's maximum of ${max} USD per member (its spec.budget.memberMaxUSD)` };
    }
    return { ok: true, budget: { limitUSD: spec.limitUSD, reset, includeByok } };
  }
  return { ok: true, budget: { limitUSD: b.limitUSD, reset, includeByok } };
}

/** Limits compare to a hundredth of a cent: OpenRouter may store them rounded, which must not read as drift. */
export function sameLimit(a: number | undefined, b: number | undefined): boolean {
  return a === undefined || b === undefined ? a === b : Math.abs(a - b) < 1e-4;
}

/** Whether a key's parameters differ from what the member should have. */
export function keyDrift(key: Key, budget: DesiredBudget, disabled: boolean): boolean {
  return key.disabled !== disabled || !sameLimit(key.limitUSD, budget.limitUSD) || key.reset !== budget.reset || key.includeByok !== budget.includeByok;
}

/** Identifies the reset window containing `now`: its start, or "never" for a lifetime budget. */
export function windowId(reset: ResetPeriod, now: number): string {
  return reset === 'never' ? 'never' : new Date(windowStart(reset, now)).toISOString();
}

/**
 * The limit the active key gets: the member's limit minus what replaced keys already spent in this window
 * (invariant 3: a new key must not come with a second full budget). Undefined when there is no cap.
 */
export function keyLimit(limitUSD: number | undefined, carriedUSD: number): number | undefined {
  return limitUSD === undefined ? undefined : roundUsd(Math.max(0, limitUSD - carriedUSD));
}

/** Spend that counts against the limit in the current window, as OpenRouter counts it. */
export function windowSpend(key: Key, reset: ResetPeriod, includeByok: boolean): number {
  return roundUsd(spendIn(key, reset, includeByok));
}

export type BudgetLevel = 'ok' | 'warn' | 'exhausted';

export function budgetLevel(spent: number, limit: number | undefined, warnAtPercent: number): BudgetLevel {
  if (limit === undefined) return 'ok';
  if (spent >= limit) return 'exhausted';
  return limit > 0 && (spent / limit) * 100 >= warnAtPercent ? 'warn' : 'ok';
}

/**
 * The member's budget as the active key gets it: less what replaced keys spent in this window, and less what a
 * previous key still draining may spend. `seen`: a key as OpenRouter last showed it.
 */
export function keyBudget(budget: DesiredBudget, carried: { usd: number; window: string }, previous: readonly PreviousKey[] | undefined, seen: (hash: string) => Key | undefined): DesiredBudget {
  const spentIn = (hash: string) => {
    const k = seen(hash);
    return k && windowSpend(k, budget.reset, budget.includeByok);
  };
  return { ...budget, limitUSD: keyLimit(budget.limitUSD, carried.usd + drainReserve(previous, carried.window, spentIn)) };
}

// --- spend carried from replaced keys -----------------------------------------------------------------------

/*
 * The spend of a member's replaced keys, so a replacement never hands out a second budget (invariant 3).
 * Each retired key is recorded once, by hash, with its spend per UTC window as OpenRouter counted it when it
 * retired; what counts against the active key is recomputed for the current reset period. Recording is
 * idempotent (a retry overwrites, never adds) and survives a change of the reset period mid-window. The list is
 * bounded (RETIRED_KEYS_MAX) without losing money: entries of one UTC day count in exactly the same windows, so
 * the oldest are merged by day, and entries older than the longest window fold into one lifetime total.
 */

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

// --- what the keys of a rotation may spend ------------------------------------------------------------------
// During the overlap the previous key (Draining) may spend what it had spent in the window plus a small
// allowance; the new key gets the member's limit minus that reserve, so the pair never hands out a second budget.
// When the previous key retires its final spend is carried instead (retiredKeys), which gives the unspent part of
// the allowance back.

/** The limit a Draining key has in `window`: its spend at rotation plus the allowance there, the allowance after. */
export function drainLimit(p: PreviousKey, window: string): number {
  return roundUsd((p.window === window ? p.spentUSD : 0) + p.allowanceUSD);
}

/**
 * What the Draining keys may spend in `window`, or have spent there if more: the active key's limit is reduced by
 * it. More is possible right after a reset boundary, before the operator lowered a draining key's limit to the
 * allowance (OpenRouter resets its usage while its limit still allows the old reserve).
 */
export function drainReserve(previous: readonly PreviousKey[] | undefined, window: string, spentIn: (hash: string) => number | undefined = () => undefined): number {
  return roundUsd((previous ?? []).filter((p) => p.state === 'Draining').reduce((sum, p) => sum + Math.max(drainLimit(p, window), spentIn(p.hash) ?? 0), 0));
}

/**
 * The allowance a previous key gets for the overlap: a share of the limit, but never more than is left of it
 * (`leftUSD`): it comes out of the member's budget, not on top of it, so rotating an exhausted key gives nothing.
 */
export function overlapAllowance(limitUSD: number | undefined, policy: ResolvedPolicy, leftUSD: number): number {
  if (limitUSD === undefined) return 0;
  return roundUsd(Math.max(0, Math.min((limitUSD * policy.rotation.allowancePercent) / 100, leftUSD)));
}

/**
 * A Draining key that can no longer be read (deleted outside) is carried at its full reserve: the most it could
 * have spent in the window it was rotated in.
 */
export function retiredFromReserve(p: PreviousKey): RetiredKey {
  const most = drainLimit(p, p.window);
  const spend: Spend = { daily: most, weekly: most, monthly: most, total: most };
  return { hash: p.hash, retiredAt: p.rotatedAt, usage: spend, byok: { daily: 0, weekly: 0, monthly: 0, total: 0 }, overlapUSD: most };
}

// --- the money of a key that goes --------------------------------------------------------------------------

type Carried = { usd: number; window: string };

/**
 * Before a key is replaced or deleted, its spend is recorded in status.budget.retiredKeys (written with the intent),
 * so a new key's limit is what is left, not a second full budget. `fresh`: the key read just now; without it, with
 * `estimate`, its spend as status last observed it (a key deleted outside can no longer be read). Recorded by
 * hash: a retry refreshes the entry instead of adding it again.
 */
export function carryRetired(status: TeamMemberStatus, fresh: Key | undefined, budget: DesiredBudget, carried: Carried, now: number, estimate: boolean): { status: TeamMemberStatus; carried: Carried } {
  const current = status.key;
  const entry = fresh ? retiredFromKey(fresh, now) : estimate && current && status.usage ? retiredFromObserved(current.hash, status.usage) : undefined;
  if (!entry) return { status, carried };
  // an estimate never replaces the spend an earlier attempt read fresh (a retry finds the key already revoked)
  const retiredKeys = withRetired(status.budget?.retiredKeys ?? [], entry, now, fresh !== undefined);
  return {
    status: { ...status, budget: { ...(status.budget ?? { reset: budget.reset }), retiredKeys } },
    carried: { usd: carriedSpend(retiredKeys, budget.reset, budget.includeByok, now), window: carried.window },
  };
}

/**
 * The Draining entry of a key rotated away from (`fresh`: it, read just now) and the limit it gets for the overlap:
 * what it spent in the window plus an allowance out of what is left of the member's limit.
 */
export function drainingEntry(old: KeyRef, fresh: Key, budget: DesiredBudget, carried: Carried, policy: ResolvedPolicy, now: number): { entry: PreviousKey; drain: { hash: string; limitUSD: number } | undefined } {
  const spentUSD = windowSpend(fresh, budget.reset, budget.includeByok);
  const left = budget.limitUSD === undefined ? 0 : budget.limitUSD - carried.usd - spentUSD;
  const entry: PreviousKey = {
    hash: old.hash, name: old.name, label: old.label, state: 'Draining',
    rotatedAt: new Date(now).toISOString(), retireAt: new Date(now + policy.rotation.overlapMs).toISOString(),
    window: carried.window, spentUSD, totalUSD: spendIn(fresh, 'never', budget.includeByok), allowanceUSD: overlapAllowance(budget.limitUSD, policy, left),
  };
  return { entry, drain: budget.limitUSD === undefined ? undefined : { hash: old.hash, limitUSD: drainLimit(entry, carried.window) } };
}
