/**
 * Pure: when a member's key rotates (on schedule, spread per member, or on request), and the history of previous
 * keys. What the keys of a rotation may spend is in budget.ts.
 */
import type { ResolvedPolicy } from '../../api/policy.ts';
import { ANNOTATION_ROTATE, PREVIOUS_KEYS_MAX, type PreviousKey, type RotationTrigger, type TeamMember, type TeamMemberStatus } from '../../api/schema.ts';

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
export function scheduledRotation(status: TeamMemberStatus, uid: string, policy: ResolvedPolicy): number | undefined {
  const ms = policy.rotation.everyMs;
  const key = status.key;
  if (ms === undefined || !key) return undefined;
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
export function rotationAsked(m: TeamMember, policy: ResolvedPolicy, now: number): RotationAsk | undefined {
  const status = m.status ?? {};
  if (!status.key || status.key.disabled || status.pendingKey || rotating(status)) return undefined;
  const request = pendingRequest(m);
  if (request) return { trigger: 'Requested', request };
  const due = scheduledRotation(status, m.metadata.uid, policy);
  return due !== undefined && now >= due ? { trigger: 'Scheduled' } : undefined;
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
