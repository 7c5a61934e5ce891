/**
 * Issuing a member's key, crash-safe: the intent (the new key's name, and the guardrail it gets) is recorded in
 * status before the create call, so a crash at any instant leaves a key that the next pass finds (decide.ts
 * recovery) and either adopts or revokes. A first key's intent is its deterministic name, found the same way. The key is assigned to its policy's guardrail before its Secret is
 * written, so a key that reached a Secret is never without its restrictions, and one that did not is revoked.
 * A rotation is the same protocol: the previous key is recorded as Draining with the intent, limited to its
 * reserve, and keeps working for the overlap (previous.ts retires it).
 */
import type { RotationTrigger, TeamMemberStatus } from '../../api/schema.ts';
import { SecretRejected, WorkspacePending } from '../../domain/errors.ts';
import type { SecretObject } from '../../domain/secret.ts';
import { OpenRouterError } from '../../openrouter/errors.ts';
import { isKube } from '../../kube/errors.ts';
import type { Key } from '../../domain/key.ts';
import { drainingEntry, keyBudget, type DesiredBudget } from './budget.ts';
import type { KeyAction } from './decide.ts';
import { impliedIntent, issued, nextKeyName, keyExpiry, keyRef, undone, type PendingRotation } from './plan.ts';
import type { Pass, Progress } from './pass.ts';
import { withPrevious, type RotationAsk } from './rotation.ts';
import { desiredSecret, keyHmac } from './secret.ts';

/** What a dry-run Secret write carries instead of a key. */
const DRY_RUN_KEY = 'teamkeys-dry-run';

const TRIGGER_WORDS: Record<RotationTrigger, string> = { Scheduled: 'on schedule', Requested: 'as requested (teamkeys.dev/rotate)', Compromised: 'because the key was disabled outside', Renewal: 'ahead of its expiry (renewBefore)', WorkspaceMoved: 'into the policy\'s new workspace' };

const REPLACED_BECAUSE = {
  Deleted: 'the key was deleted outside Kubernetes',
  SecretLost: 'the Secret no longer held the key',
  ExpiryShortened: 'it would have outlived the shortened expiresAt or keyTTL',
  KeyExpired: 'it reached its expiry',
} as const;

/**
 * Replaces or issues the member's key as planned: carries the retiring key's spend (`retired`, read fresh; undefined
 * when it is gone), creates the new key with what is left of the budget, writes the Secret, and says why in an Event.
 */
export async function provision(p: Pass, budget: DesiredBudget, s: Progress, k: Extract<KeyAction, { kind: 'create' }>, retired: Key | undefined): Promise<Progress> {
  const plan = k.plan;
  const { d, v } = p;
  const rotation = k.rotation;
  const created = await createKey(p, budget, s, { revoke: plan.revoke, rotation, guardrail: k.guardrail });
  if (plan.reason === 'Compromised') {
    await d.events.warn(v.member, 'KeyCompromised', `the key was disabled outside teamkeys, which is treated as a leak: issued ${created.label} into Secret ${v.secretName} and deleted the disabled key`);
  } else if (plan.reason !== 'Initial') {
    await d.events.warn(v.member, 'KeyReplaced', `issued a new key because ${REPLACED_BECAUSE[plan.reason]}${retired ? ' (old key revoked)' : ''}`);
  }
  // a first key gets no Event: Ready=True KeyReady (with its transition time) says it, one write fewer per member
  return created.progress;
}

/**
 * Starts a rotation from `fresh`, the active key read just now (the reserve starts from what it spent); the
 * progress is unchanged when it vanished meanwhile (the next pass replaces it).
 */
export async function rotate(p: Pass, budget: DesiredBudget, s: Progress, ask: RotationAsk, guardrail: string | undefined, fresh: Key | undefined): Promise<Progress> {
  const { d, v, policy } = p;
  const old = s.status.key;
  if (!old) return s;
  if (!fresh || fresh.hash !== old.hash) return s;
  const { entry, drain } = drainingEntry(old, fresh, budget, s.carried, policy, v.now);
  const draining = { ...s, status: { ...s.status, previousKeys: withPrevious(s.status.previousKeys, entry, policy.rotation.historyLimit) } };
  const created = await createKey(p, budget, draining, { rotation: { trigger: ask.trigger, from: old.hash, ...(ask.request ? { request: ask.request } : {}) }, drain, guardrail });
  const until = policy.rotation.overlapMs > 0 ? `works until ${entry.retireAt}` : 'is disabled now';
  await d.events.normal(v.member, 'KeyRotated', `rotated ${TRIGGER_WORDS[ask.trigger]}: ${created.label} is in Secret ${v.secretName}; the previous key ${old.label} ${until}`);
  return created.progress;
}

interface CreateOptions {
  /** the key being replaced: deleted before the new one is created */
  revoke?: string | undefined;
  /** the rotation this create is part of, recorded with the intent */
  rotation?: PendingRotation | undefined;
  /** the previous key's limit for the overlap, applied after the intent and before the create */
  drain?: { hash: string; limitUSD: number } | undefined;
  guardrail: string | undefined;
}

/**
 * Records the intent (and any carried spend or draining key), revokes the key being replaced or limits the one
 * rotated away from, creates the new one, writes the Secret. A first key records no intent: its deterministic
 * name is the intent (plan.ts nextKeyName), so a new member costs no status write before its key.
 */
async function createKey(p: Pass, budget: DesiredBudget, s: Progress, o: CreateOptions): Promise<{ label: string; progress: Progress }> {
  const { d, v, policy, journal } = p;
  const member = v.member;
  const seq = (s.status.keySeq ?? 0) + 1;
  const name = nextKeyName(d.clusterId, member, s.status);
  // never elsewhere while the policy's own workspace is still being made (decide waits for it)
  if (v.workspace.kind === 'pending') throw new WorkspacePending(v.workspace.ref);
  const workspaceId = v.workspace.kind === 'ready' ? v.workspace.id : undefined;
  // the intent's instant (the operator's clock) is what the key's expiry is measured from, and its issuedAt
  const issuedAt = v.now;
  const since = new Date(issuedAt).toISOString();
  const existing = s.secret;
  const secretOf = (apiKey: string, keyHash: string, at?: string) => desiredSecret({ member, policy, apiKey, keyHash, hmac: keyHmac(d.hmacKey, apiKey), baseUrl: d.baseUrl, existing, issuedAt: at });
  // the API server must accept the Secret first (a dry run) when a key is revoked before the create (a refusal
  // then would leave workloads still holding it without any), and after it refused this member's Secret once (a
  // refusal that lasts, quota or an admission policy, then costs a round trip per attempt, not a key each). A first
  // key goes without: its checks are made at apply time (CRD schema and CEL), and a refusal costs one key, revoked
  if (o.revoke || refusedBefore(s.status)) await d.secrets.write(secretOf(DRY_RUN_KEY, 'dry-run'), existing !== undefined, true);
  // what is left of the budget once replaced and draining keys took theirs
  const want = keyBudget(budget, s.carried, s.status.previousKeys, (h) => d.book.get(h));
  const implied = impliedIntent(s.status) && !o.rotation && !o.revoke && !o.drain;
  const intent: TeamMemberStatus = implied ? s.status : { ...s.status, pendingKey: { name, since, ...(o.guardrail ? { guardrail: o.guardrail } : {}), ...(o.rotation ? { rotation: o.rotation } : {}) }, keySeq: seq };
  // recorded before the create call, so a crash at any instant leaves a findable key
  if (!implied) await journal.save(intent);
  if (o.revoke) await d.keys.delete(o.revoke);
  if (o.drain) await d.keys.update(o.drain.hash, { limitUSD: o.drain.limitUSD });
  // the rotation did not happen: the key rotated away from gets its limit back before the intent goes
  const giveBack = async () => {
    if (o.drain) await d.keys.update(o.drain.hash, { limitUSD: s.status.key?.limitUSD ?? null });
    if (!implied) await journal.save(undone(intent));
  };
  let created: { key: Key; secret: string };
  try {
    created = await d.keys.create({ name, ...want, expiresAt: keyExpiry(issuedAt, member.spec, policy), workspaceId });
  } catch (e) {
    // only a 4xx proves nothing was created; after anything else (5xx, a cut connection, an unreadable 2xx)
    // the key may exist, so the intent stays and the next attempt starts by recovering it
    if (e instanceof OpenRouterError && e.status !== undefined && e.status >= 400 && e.status < 500 && e.kind !== 'rateLimited') {
      await giveBack();
      await d.events.warn(member, 'CreateFailed', e.message);
    } else d.book.createUnsure(name);
    throw e;
  }
  let key = created.key;
  // before the Secret: a crash or a failure here leaves a key no Secret holds, which recovery revokes (a guardrail
  // deleted outside meanwhile is forgotten by the port, so the next attempt waits for a new one)
  if (o.guardrail) await d.guardrails.assign(o.guardrail, [key.hash]);
  if (member.spec.suspended) key = await d.keys.update(key.hash, { disabled: true });
  let written: SecretObject;
  try {
    written = await d.secrets.write(secretOf(created.secret, key.hash, since), existing !== undefined);
  } catch (e) {
    // refused for what it is, or a Secret of that name exists that the cache did not show (someone else's: the
    // next pass reads it and reports SecretConflict): the key no Secret will hold goes at once
    if (e instanceof SecretRejected || isKube(e, 'alreadyExists')) {
      try {
        await d.keys.delete(key.hash);
      } finally {
        await giveBack();
      }
    }
    throw e;
  }
  // not written here: the pass's report carries it (one write fewer per key). A crash before then leaves the
  // intent (or the implied one) and a Secret holding the key, which recovery adopts by its HMAC
  const status = { ...intent, pendingKey: undefined, keySeq: seq, key: keyRef(key, undefined, since), rotation: issued(member, intent, o.rotation, v.now) };
  if (o.rotation) d.observe.rotated(o.rotation.trigger);
  return { label: key.label, progress: { status, carried: s.carried, secret: written, issuedWith: want } };
}

/** Whether the member's last pass ended with the API server refusing its Secret (its Ready condition says so). */
function refusedBefore(status: TeamMemberStatus): boolean {
  return status.conditions?.some((c) => c.type === 'Ready' && c.status === 'False' && c.reason === 'SecretRejected') ?? false;
}
