/** Pure: what must happen to a member's key, given what the operator can see. */
import type { ResolvedPolicy } from '../../api/policy.ts';
import type { KeyRef, TeamMember, TeamMemberSpec, TeamMemberStatus } from '../../api/schema.ts';
import { pendingRequest } from './rotation.ts';
import { impliedKeySeq } from '../../api/objects.ts';
import { keyName } from '../keyname.ts';

export type PendingRotation = NonNullable<NonNullable<TeamMemberStatus['pendingKey']>['rotation']>;
import type { Key } from '../../domain/key.ts';

export interface PlanInput {
  status: TeamMemberStatus;
  /** false when the member should have no usable key at all (expired) */
  wantKey: boolean;
  /** the key named in status, as last listed (undefined: not seen) */
  observed: Key | undefined;
  /** a complete key list began after the current key was created: absence from it means deleted */
  listedSinceKeyCreated: boolean;
  /** the Secret the operator owns: which key hash it holds and whether its string matches its HMAC */
  secret: { keyHash: string | undefined; intact: boolean } | undefined;
  /** the current key may live longer than the member's expiresAt or the policy's keyTTL now allow */
  outlivesAllowance: boolean;
  /** the member should have a working key now (not suspended, not expired) */
  wantEnabled: boolean;
  /** what the policy does with a key someone disabled outside teamkeys */
  onDisabledOutside: 'Replace' | 'Respect';
  now: number;
}

export type KeyPlan =
  | { kind: 'keep' }
  | { kind: 'recover' } // a create was in flight: find what it left behind first
  | { kind: 'hold' } // the key was disabled outside and the policy respects that: touch nothing, report it
  | { kind: 'create'; reason: 'Initial' | 'Deleted' | 'SecretLost' | 'ExpiryShortened' | 'KeyExpired' | 'Compromised'; revoke: string | undefined };

/**
 * A key is disabled outside when OpenRouter shows it disabled but the operator never disabled it (its status says
 * enabled), or it was marked so before. A leaked key is what an admin disables in a hurry: it is never re-enabled.
 */
export function disabledOutside(key: { disabled: boolean; disabledOutside?: boolean | undefined } | undefined, observed: Key | undefined): boolean {
  if (!key || !observed?.disabled) return false;
  return key.disabledOutside === true || !key.disabled;
}

export function planKey(i: PlanInput): KeyPlan {
  if (i.status.pendingKey) return { kind: 'recover' };
  const current = i.status.key;
  if (!i.wantKey) return { kind: 'keep' };
  if (!current) return { kind: 'create', reason: 'Initial', revoke: undefined };
  if (!i.observed && i.listedSinceKeyCreated) return { kind: 'create', reason: 'Deleted', revoke: undefined };
  if (!i.secret || i.secret.keyHash !== current.hash || !i.secret.intact) return { kind: 'create', reason: 'SecretLost', revoke: current.hash };
  // judged only while the member should have a working key: a suspended member's key is off anyway
  if (i.wantEnabled && disabledOutside(current, i.observed)) {
    return i.onDisabledOutside === 'Respect' ? { kind: 'hold' } : { kind: 'create', reason: 'Compromised', revoke: current.hash };
  }
  // the key ran out (keyTTL, or an expiresAt since extended) while the member is still valid: a fresh key
  if (current.expiresAt && Date.parse(current.expiresAt) <= i.now) return { kind: 'create', reason: 'KeyExpired', revoke: current.hash };
  if (i.outlivesAllowance) return { kind: 'create', reason: 'ExpiryShortened', revoke: current.hash };
  return { kind: 'keep' };
}

/**
 * The name the member's next key gets. A first key (no key in status, no recorded intent) is created without
 * writing an intent first: this name is the intent, deterministic from what status already holds, and a crash
 * leaves a key the next pass finds by it (one write fewer per new member).
 */
export function nextKeyName(cluster: string, member: { metadata: { namespace?: string | undefined; name: string; uid: string } }, status: TeamMemberStatus): string {
  return keyName({ cluster, namespace: member.metadata.namespace ?? '', member: member.metadata.name, uid: member.metadata.uid, seq: (status.keySeq ?? 0) + 1 });
}

/** Whether the next key is created under the implied intent (its name) rather than one recorded in status. */
export function impliedIntent(status: TeamMemberStatus): boolean {
  return impliedKeySeq(status) !== undefined;
}

/** After a crash: the key the Secret holds (if it is one of the in-flight creation's keys) is kept; the rest go. */
export function recoverPending(candidates: readonly Key[], secretKeyHash: string | undefined, secretIntact: boolean): { adopt: Key | undefined; revoke: string[] } {
  const adopt = secretIntact ? candidates.find((k) => k.hash === secretKeyHash) : undefined;
  return { adopt, revoke: candidates.filter((k) => k !== adopt).map((k) => k.hash) };
}

/**
 * A create that reached no Secret: the intent goes, and a rotation it was part of did not happen — the active key
 * is no longer draining (what asked for the rotation still does, so it is tried again).
 */
export function undone(s: TeamMemberStatus): TeamMemberStatus {
  return { ...s, pendingKey: undefined, previousKeys: s.previousKeys?.filter((p) => p.hash !== s.key?.hash || p.state === 'Deleted') };
}

/**
 * The key as status records it; createdAt and issuedAt are kept across updates of the same key. `issuedAt`:
 * when the operator asked for a new key, on its own clock.
 */
export function keyRef(k: Key, prev: KeyRef | undefined, issuedAt?: string): KeyRef {
  const same = prev?.hash === k.hash;
  const at = same ? prev.issuedAt : issuedAt;
  // recorded for keys issued from now on only: an upgrade costs no status write per member
  const ws = same ? prev.workspaceId : issuedAt !== undefined ? k.workspaceId : undefined;
  return {
    hash: k.hash,
    name: k.name,
    label: k.label,
    createdAt: same ? prev.createdAt : k.createdAt,
    ...(at ? { issuedAt: at } : {}),
    ...(k.expiresAt ? { expiresAt: k.expiresAt } : {}),
    disabled: k.disabled,
    ...(k.limitUSD === undefined ? {} : { limitUSD: k.limitUSD }),
    ...(ws ? { workspaceId: ws } : {}),
    reset: k.reset,
    includeByok: k.includeByok,
    // the mark lasts while the key stays disabled; re-enabled at OpenRouter, it is an ordinary key again
    ...(same && prev.disabledOutside && k.disabled ? { disabledOutside: true } : {}),
  };
}

/** The rotation bookkeeping once a key was issued: a rotation counts, and a fresh key satisfies any request. */
export function issued(member: TeamMember, s: TeamMemberStatus, rotation: PendingRotation | undefined, now: number): TeamMemberStatus['rotation'] {
  const prev = s.rotation ?? { count: 0 };
  const request = rotation?.request ?? pendingRequest({ ...member, status: s });
  return {
    ...prev,
    ...(rotation ? { count: prev.count + 1, lastRotatedAt: new Date(now).toISOString(), lastTrigger: rotation.trigger } : {}),
    ...(request ? { lastRequest: request } : {}),
  };
}

// --- the key's lifetime ------------------------------------------------------------------------------------

/** OpenRouter wants UTC with seconds; milliseconds are dropped so the value round-trips unchanged. */
export function utcSeconds(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** expires_at for a key created at `createdMs`: the earlier of the member's hard end and the policy's key TTL. */
export function keyExpiry(createdMs: number, spec: TeamMemberSpec, policy: ResolvedPolicy): string | undefined {
  const ends: number[] = [];
  if (spec.expiresAt) ends.push(Date.parse(spec.expiresAt));
  if (policy.keyTtlMs !== undefined) ends.push(createdMs + policy.keyTtlMs);
  return ends.length > 0 ? utcSeconds(Math.min(...ends)) : undefined;
}

/**
 * Whether a key may live longer than the member or the policy now allows (a shortened expiresAt or keyTTL):
 * then it must be replaced. Compares the key's expiry with what the operator asked for, both on its own clock
 * (issuedAt is when it asked): OpenRouter's createdAt is on another clock and never meets them. An extension
 * needs no new key until the current one runs out; a key issued before issuedAt was recorded is judged by
 * spec.expiresAt only (it is replaced when it runs out).
 */
export function keyOutlivesAllowance(key: { expiresAt?: string | undefined; issuedAt?: string | undefined }, spec: TeamMemberSpec, policy: ResolvedPolicy): boolean {
  const end = key.expiresAt ? Date.parse(key.expiresAt) : Number.POSITIVE_INFINITY;
  if (spec.expiresAt && end > Date.parse(spec.expiresAt) + 1_000) return true;
  if (policy.keyTtlMs === undefined || key.issuedAt === undefined) return false;
  return end > Date.parse(key.issuedAt) + policy.keyTtlMs + 1_000;
}
