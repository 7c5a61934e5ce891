/**
 * Pure: when a member's key rotates (on schedule or ahead of its expiry, spread per member, or on request), and the history of previous
 * keys. What the keys of a rotation may spend is in budget.ts.
 */
import type { ResolvedPolicy } from '../../api/policy.ts';
import { ANNOTATION_ROTATE, PREVIOUS_KEYS_MAX, type KeyRef, type PreviousKey, type RotationTrigger, type TeamMember, type TeamMemberSpec, type TeamMemberStatus } from '../../api/schema.ts';

export interface RotationAsk {
  trigger: RotationTrigger;
  /** the annotation value asked with, recorded as lastRequest once the rotation is done */
  request?: string | undefined;
  /** a renewal this close to the key's expiry takes no slot (--max-concurrent-rotations): it cannot wait */
  urgent?: true;
}

/** How close to its expiry a renewal stops waiting for a slot: the overlap, and an hour to spare. */
const URGENT_MS = 3_600_000;

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

/** When a rotation is due by time alone, and what asks for it. */
export interface DueRotation {
  at: number;
  trigger: 'Scheduled' | 'Renewal';
}

/** The member's spread over a tenth of `leadMs` (at most a day): how much earlier its rotation falls. */
function spreadMs(uid: string, leadMs: number): number {
  return Math.floor(spreadOf(uid) * Math.min(leadMs / 10, SPREAD_CAP_MS));
}

/**
 * When the active key is due for a scheduled rotation: `every` after it was issued (on the operator's clock),
 * less the member's spread.
 */
function scheduled(key: KeyRef, uid: string, policy: ResolvedPolicy): number | undefined {
  const ms = policy.rotation.everyMs;
  if (ms === undefined) return undefined;
  return Date.parse(key.issuedAt ?? key.createdAt) + ms - spreadMs(uid, ms);
}

/**
 * When a key that expires must be renewed so it never runs out under a member still valid: renewBefore ahead of
 * its expiresAt (a third of its lifetime by default, as cert-manager does), less the member's spread. expiresAt
 * is what the operator asked for on its own clock, so it is compared with our clock only. A key that ends with the
 * member (its expiresAt) is not renewed.
 */
export function renewalDue(key: KeyRef, spec: Pick<TeamMemberSpec, 'expiresAt'>, uid: string, policy: ResolvedPolicy): number | undefined {
  if (!key.expiresAt) return undefined;
  const end = Date.parse(key.expiresAt);
  if (spec.expiresAt && end >= Date.parse(spec.expiresAt) - 1_000) return undefined;
  const lifetime = key.issuedAt ? end - Date.parse(key.issuedAt) : policy.keyTtlMs;
  const lead = policy.renewBeforeMs ?? (lifetime === undefined ? DEFAULT_RENEW_BEFORE_MS : lifetime / 3);
  return end - lead - spreadMs(uid, lead);
}

/** A key with an expiry but no known lifetime (issued before issuedAt was recorded, no keyTTL now) is renewed a day ahead. */
const DEFAULT_RENEW_BEFORE_MS = 24 * 3_600_000;

/** The next rotation the clock brings: the schedule's or the renewal's, whichever is first. */
export function nextRotation(m: { status?: TeamMemberStatus | undefined; spec: Pick<TeamMemberSpec, 'expiresAt'>; uid: string }, policy: ResolvedPolicy): DueRotation | undefined {
  const key = m.status?.key;
  if (!key) return undefined;
  const every = scheduled(key, m.uid, policy);
  const renew = renewalDue(key, m.spec, m.uid, policy);
  if (renew !== undefined && (every === undefined || renew <= every)) return { at: renew, trigger: 'Renewal' };
  return every === undefined ? undefined : { at: every, trigger: 'Scheduled' };
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
 * an on-demand request goes first, then a move to the policy's new workspace, then the schedule or renewal.
 */
export function rotationAsked(m: TeamMember, policy: ResolvedPolicy, now: number, moved = false): RotationAsk | undefined {
  const status = m.status ?? {};
  if (!status.key || status.key.disabled || status.pendingKey || rotating(status)) return undefined;
  const request = pendingRequest(m);
  if (request) return { trigger: 'Requested', request };
  if (moved) return { trigger: 'WorkspaceMoved' };
  const due = nextRotation({ status, spec: m.spec, uid: m.metadata.uid }, policy);
  if (due === undefined || now < due.at) return undefined;
  const end = status.key.expiresAt ? Date.parse(status.key.expiresAt) : Number.POSITIVE_INFINITY;
  return due.trigger === 'Renewal' && end - now < policy.rotation.overlapMs + URGENT_MS ? { trigger: due.trigger, urgent: true } : { trigger: due.trigger };
}

/**
 * Rotations that may wait for a slot (--max-concurrent-rotations): the ones time or a policy edit brings, which
 * would otherwise all start at once; a person's request and a leaked key never wait.
 */
export function timed(trigger: RotationTrigger): boolean {
  return trigger === 'Scheduled' || trigger === 'Renewal' || trigger === 'WorkspaceMoved';
}

/**
 * Adds a previous key, keeping at most `limit` (the policy's rotation.historyLimit, at most the CRD's bound):
 * deleted ones go first, then the oldest. The entry added, the newest, always stays (it may be draining).
 */
export function withPrevious(list: readonly PreviousKey[] | undefined, entry: PreviousKey, limit: number): PreviousKey[] {
  const all = [...(list ?? []).filter((p) => p.hash !== entry.hash), entry];
  while (all.length > Math.max(1, Math.min(limit, PREVIOUS_KEYS_MAX))) {
    const gone = all.findIndex((p, i) => p.state === 'Deleted' && i < all.length - 1);
    all.splice(gone >= 0 ? gone : 0, 1);
  }
  return all;
}

/** The next instant a previous key changes state by time alone (retire at the end of the overlap, delete after retention). */
export function nextPreviousKeyStep(previous: readonly PreviousKey[] | undefined): number | undefined {
  const times = (previous ?? []).flatMap((p) => (p.state === 'Draining' ? [Date.parse(p.retireAt)] : p.state === 'Disabled' && p.deleteAt ? [Date.parse(p.deleteAt)] : []));
  return times.length > 0 ? Math.min(...times) : undefined;
}
