/** Pure decisions about a member's key: its budget, expiry and whether it should be usable. */
import type { KeyPolicySpec, ResetPeriod, TeamMemberSpec } from '../../api/schema.ts';
import { spendIn, type Key } from '../../domain/key.ts';
import { roundUsd } from '../../util/money.ts';
import { parseDuration } from '../../util/duration.ts';
import { windowStart } from '../../util/windows.ts';

export interface DesiredBudget {
  limitUSD: number | undefined;
  reset: ResetPeriod;
  includeByok: boolean;
}

export type BudgetDecision = { ok: true; budget: DesiredBudget } | { ok: false; reason: 'LimitAboveMax'; message: string };

/** The member's own limit, when set, must stay within the policy's memberMaxUSD (or its limitUSD without one). */
export function effectiveBudget(spec: TeamMemberSpec, policy: KeyPolicySpec): BudgetDecision {
  const b = policy.budget;
  const reset = b?.reset ?? 'monthly';
  const includeByok = b?.includeByok ?? false;
  if (spec.limitUSD !== undefined) {
    const max = b?.memberMaxUSD ?? b?.limitUSD;
    if (max !== undefined && spec.limitUSD > max) {
      return { ok: false, reason: 'LimitAboveMax', message: `spec.limitUSD ${spec.limitUSD} is above the policy's maximum of ${max} USD per member (its spec.budget.memberMaxUSD)` };
    }
    return { ok: true, budget: { limitUSD: spec.limitUSD, reset, includeByok } };
  }
  return { ok: true, budget: { limitUSD: b?.limitUSD, reset, includeByok } };
}

/** OpenRouter wants UTC with seconds; milliseconds are dropped so the value round-trips unchanged. */
export function utcSeconds(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** expires_at for a key created at `createdMs`: the earlier of the member's hard end and the policy's key TTL. */
export function keyExpiry(createdMs: number, spec: TeamMemberSpec, policy: KeyPolicySpec): string | undefined {
  const ends: number[] = [];
  if (spec.expiresAt) ends.push(Date.parse(spec.expiresAt));
  if (policy.keyTTL) ends.push(createdMs + parseDuration(policy.keyTTL));
  return ends.length > 0 ? utcSeconds(Math.min(...ends)) : undefined;
}

/**
 * Whether a key may live longer than the member or the policy now allows (a shortened expiresAt or keyTTL):
 * then it must be replaced. Compares the key's expiry with what the operator asked for, both on its own clock
 * (issuedAt is when it asked): OpenRouter's createdAt is on another clock and never meets them. An extension
 * needs no new key until the current one runs out; a key issued before issuedAt was recorded is judged by
 * spec.expiresAt only (it is replaced when it runs out).
 */
export function keyOutlivesAllowance(key: { expiresAt?: string | undefined; issuedAt?: string | undefined }, spec: TeamMemberSpec, policy: KeyPolicySpec): boolean {
  const end = key.expiresAt ? Date.parse(key.expiresAt) : Number.POSITIVE_INFINITY;
  if (spec.expiresAt && end > Date.parse(spec.expiresAt) + 1_000) return true;
  if (policy.keyTTL === undefined || key.issuedAt === undefined) return false;
  return end > Date.parse(key.issuedAt) + parseDuration(policy.keyTTL) + 1_000;
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
