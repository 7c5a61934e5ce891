/**
 * Pure: when a member's key rotates, and what the keys of a rotation may spend. During the overlap the previous
 * key (Draining) may spend what it had spent in the window plus a small allowance; the new key gets the member's
 * limit minus that reserve, so the pair never hands out a second budget. When the previous key retires its final
 * spend is carried instead (retiredKeys), which gives the unspent part of the allowance back.
 */
import { ANNOTATION_ROTATE, PREVIOUS_KEYS_MAX, type KeyPolicySpec, type PreviousKey, type RotationTrigger, type TeamMember, type TeamMemberStatus } from '../../api/schema.ts';
import { parseDuration } from '../../util/duration.ts';
import { roundUsd } from '../../util/money.ts';
import type { Spend } from '../../domain/key.ts';
import type { RetiredKey } from './carry.ts';

export interface RotationAsk {
  trigger: RotationTrigger;
  /** the annotation value asked with, recorded as lastRequest once the rotation is done */
  request?: string | undefined;
}

/** The most a scheduled rotation is moved earlier per member, so members created together do not rotate together. */
const SPREAD_CAP_MS = 24 * 3_600_000;

/** A stable fraction in [0, 1) from the member's UID (FNV-1a): the same after every restart, different per member. */
export function spreadOf(uid: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < uid.length; i++) {
    h ^= uid.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h / 2 ** 32;
}

/**
 * When the active key is due for a scheduled rotation: `every` after it was issued (on the operator's clock),
 * less the member's spread.
 */
export function scheduledRotation(status: TeamMemberStatus, uid: string, policy: KeyPolicySpec): number | undefined {
  const every = policy.rotation?.every;
  const key = status.key;
  if (!every || !key) return undefined;
  const ms = parseDuration(every);
  return Date.parse(key.issuedAt ?? key.createdAt) + ms - Math.floor(spreadOf(uid) * Math.min(ms / 10, SPREAD_CAP_MS));
}

/** The annotation value that asks for a rotation not yet done, if any. */
export function pendingRequest(m: TeamMember): string | undefined {
  const request = m.metadata.annotations?.[ANNOTATION_ROTATE];
  return request && request !== m.status?.rotation?.lastRequest ? request : undefined;
}

/** Whether a rotation is in flight: a create for it, or a previous key still draining. */
export function rotating(status: TeamMemberStatus): boolean {
  return status.pendingKey?.rotation !== undefined || (status.previousKeys ?? []).some((p) => p.state === 'Draining');
}

/**
 * What asks for a rotation now. Only for a member with a working key and no rotation in flight (one at a time);
 * an on-demand request goes before the schedule.
 */
export function rotationAsked(m: TeamMember, policy: KeyPolicySpec, now: number): RotationAsk | undefined {
  const status = m.status ?? {};
  if (!status.key || status.key.disabled || status.pendingKey || rotating(status)) return undefined;
  const request = pendingRequest(m);
  if (request) return { trigger: 'Requested', request };
  const due = scheduledRotation(status, m.metadata.uid, policy);
  return due !== undefined && now >= due ? { trigger: 'Scheduled' } : undefined;
}

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
export function overlapAllowance(limitUSD: number | undefined, policy: KeyPolicySpec, leftUSD: number): number {
  if (limitUSD === undefined) return 0;
  return roundUsd(Math.max(0, Math.min((limitUSD * (policy.rotation?.overlapAllowancePercent ?? 5)) / 100, leftUSD)));
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

/** Adds a previous key, keeping at most PREVIOUS_KEYS_MAX: deleted ones go first, then the oldest. */
export function withPrevious(list: readonly PreviousKey[] | undefined, entry: PreviousKey): PreviousKey[] {
  const all = [...(list ?? []).filter((p) => p.hash !== entry.hash), entry];
  while (all.length > PREVIOUS_KEYS_MAX) {
    const gone = all.findIndex((p) => p.state === 'Deleted');
    all.splice(gone >= 0 ? gone : 0, 1);
  }
  return all;
}

/** The next instant a previous key changes state by time alone (retire at the end of the overlap, delete after retention). */
export function nextPreviousKeyStep(previous: readonly PreviousKey[] | undefined): number | undefined {
  const times = (previous ?? []).flatMap((p) => (p.state === 'Draining' ? [Date.parse(p.retireAt)] : p.state === 'Disabled' && p.deleteAt ? [Date.parse(p.deleteAt)] : []));
  return times.length > 0 ? Math.min(...times) : undefined;
}
