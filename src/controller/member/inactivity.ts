/**
 * Pure: no key left idle. Spend activity is read from the key list the operator makes anyway (lifetime spend
 * moving), so tracking it costs no call; a key idle past the policy's inactivity.disableAfter is disabled, past
 * deleteAfter deleted, and comes back only on a deliberate act (the teamkeys.dev/reactivate annotation).
 */
import type { Inactivity, TeamMemberStatus } from '../../api/schema.ts';
import type { Key } from '../../domain/key.ts';
import { parseDuration } from '../../util/duration.ts';

export type Activity = NonNullable<TeamMemberStatus['activity']>;
export type Idle = 'active' | 'disable' | 'delete';

/** Lifetime spend of a key, BYOK included: it only ever grows, so any growth is activity. */
function lifetime(k: Key): number {
  return k.usage.total + k.byok.total;
}

/**
 * The activity record after looking at the active key. A new key (issued or rotated) is not activity by itself:
 * it keeps the last spend time, except the first key, which counts from its creation.
 */
export function nextActivity(prev: Activity | undefined, key: { hash: string; createdAt: string; issuedAt?: string | undefined } | undefined, observed: Key | undefined, now: string): Activity | undefined {
  if (!key || !observed || observed.hash !== key.hash) return prev;
  const total = lifetime(observed);
  // counted on the operator's clock: OpenRouter's createdAt only for a key issued before issuedAt was recorded
  if (!prev) return { lastSpendAt: key.issuedAt ?? key.createdAt, keyHash: key.hash, lifetimeUSD: total };
  if (prev.keyHash !== key.hash) return { ...prev, keyHash: key.hash, lifetimeUSD: total, ...(total > 0 ? { lastSpendAt: now } : {}) };
  // a hundredth of a cent: OpenRouter's rounding is not spend
  return total > prev.lifetimeUSD + 1e-4 ? { ...prev, lastSpendAt: now, lifetimeUSD: total } : prev;
}

/** What inactivity asks for now. */
export function idleState(policy: Inactivity | undefined, activity: Activity | undefined, now: number): Idle {
  if (!policy || !activity) return 'active';
  const idleMs = now - Date.parse(activity.lastSpendAt);
  if (policy.deleteAfter && idleMs >= parseDuration(policy.deleteAfter)) return 'delete';
  return idleMs >= parseDuration(policy.disableAfter) ? 'disable' : 'active';
}

/** When the next inactivity step is due (undefined: none). */
export function nextIdleStep(policy: Inactivity | undefined, activity: Activity | undefined, state: Idle): number | undefined {
  if (!policy || !activity || state === 'delete') return undefined;
  const since = Date.parse(activity.lastSpendAt);
  if (state === 'active') return since + parseDuration(policy.disableAfter);
  return policy.deleteAfter ? since + parseDuration(policy.deleteAfter) : undefined;
}

/** A new value of the reactivate annotation that has not been acted on. */
export function reactivationAsked(annotation: string | undefined, activity: Activity | undefined): boolean {
  return annotation !== undefined && annotation !== '' && annotation !== activity?.reactivation;
}
