/**
 * Issuing a member's key, crash-safe: the intent (the new key's name, and the guardrail it gets) is recorded in
 * status before the create call, so a crash at any instant leaves a key that the next pass finds (recover) and
 * either adopts or revokes. The key is assigned to its policy's guardrail before its Secret is written, so a key
 * that reached a Secret is never without its restrictions, and one that did not is revoked.
 */
import type { V1Secret } from '@kubernetes/client-node';
import { ANNOTATION_KEY_HASH, ANNOTATION_KEY_HMAC, type KeyPolicy, type TeamMemberStatus } from '../../api/schema.ts';
import { pendingRequest } from './rotation.ts';
import { OpenRouterError, isOpenRouter } from '../../openrouter/errors.ts';
import { keyName } from '../keyname.ts';
import type { Key } from '../../domain/key.ts';
import { carriedSpend, retiredFromKey, retiredFromObserved, withRetired } from './carry.ts';
import { confirmedKey } from './confirm.ts';
import { GuardrailPending, type MemberContext, type SecretState } from './context.ts';
import { keyExpiry, type DesiredBudget } from './desired.ts';
import type { KeyPlan } from './plan.ts';
import { withPrevious } from './rotation.ts';
import { recoverPending } from './plan.ts';
import { desiredSecret, hmacMatches, keyHmac } from './secret.ts';

/** What a dry-run Secret write carries instead of a key. */
const DRY_RUN_KEY = 'teamkeys-dry-run';

type Create = Extract<KeyPlan, { kind: 'create' }>;

/** A create was in flight when the operator stopped: keep what reached the Secret, revoke the rest. */
export async function recover(c: MemberContext, secret: SecretState, policy: KeyPolicy): Promise<number> {
  const pending = c.status.pendingKey;
  if (!pending) return 0;
  const d = c.d;
  const own = secret && secret !== 'foreign' ? secret : undefined;
  const apiKey = c.storedKey(own, policy);
  // strict here: only the HMAC proves which of several same-named keys reached the Secret
  const intact = own !== undefined && hmacMatches(d.hmacKey, apiKey ?? '', own.metadata?.annotations?.[ANNOTATION_KEY_HMAC]);
  const held = own?.metadata?.annotations?.[ANNOTATION_KEY_HASH];
  const candidates = d.book.byName(pending.name);
  // the key the Secret holds may be one the listing missed (confirm.ts): read it, or the create that reached the
  // Secret would be undone, its key swept, and the key it rotated away from revoked at once as if the Secret were lost
  if (intact && held && held !== c.status.key?.hash && !candidates.some((k) => k.hash === held)) {
    const k = await confirmedKey(d, held);
    if (k?.name === pending.name) candidates.push(k);
  }
  const { adopt, revoke } = recoverPending(candidates, held, intact);
  for (const hash of revoke) {
    await d.keys.delete(hash);
    d.book.remove(hash);
    d.log.warn({ member: c.id, hash }, 'revoked a key left behind by an interrupted create');
  }
  if (revoke.length > 0) await d.recorder.warn(c.m, 'OrphanRevoked', `revoked ${revoke.length} key(s) left behind by an interrupted create`);
  const rotation = pending.rotation;
  const next: TeamMemberStatus = adopt
    ? { ...c.status, pendingKey: undefined, key: c.keyRef(adopt, c.status.key, pending.since), rotation: issued(c, rotation) }
    : undone(c.status);
  await c.patchStatus(next);
  if (adopt && rotation) d.observe.rotated(rotation.trigger);
  return revoke.length;
}

/** The guardrail a new key gets (undefined: none wanted); throws GuardrailPending when it does not exist yet. */
export function requireGuardrail(c: MemberContext, policy: KeyPolicy): string | undefined {
  const guard = c.d.guardrailFor(policy);
  if (guard.kind === 'pending') throw new GuardrailPending(`KeyPolicy "${policy.metadata.name}" restricts models or providers and its guardrail does not exist yet: no key is issued without it`);
  return guard.kind === 'ready' ? guard.id : undefined;
}

/**
 * Replaces or issues the member's key as planned: carries the retiring key's spend, creates the new key with what
 * is left of the budget, writes the Secret, and says why in an Event. Returns the Secret as written.
 */
export async function provision(c: MemberContext, plan: Create, policy: KeyPolicy, budget: DesiredBudget, secret: SecretState): Promise<V1Secret> {
  const d = c.d;
  requireGuardrail(c, policy); // before anything is recorded
  // the retiring key's spend, read fresh: what it spent since the last list counts too. Only a 404 falls back to
  // the last observation; any other failure retries later rather than carry a stale number
  const retired = plan.revoke ? await c.freshKey(plan.revoke) : undefined;
  if (plan.reason !== 'Initial') carryRetiredSpend(c, retired, budget);
  const rotation: PendingRotation | undefined = plan.reason === 'Compromised' && c.status.key ? { trigger: 'Compromised', from: c.status.key.hash } : undefined;
  if (rotation && c.status.key) {
    // kept in the rotation history; the key is deleted at once, as a leaked key must be
    const k = c.status.key;
    const at = new Date(c.now()).toISOString();
    c.status = { ...c.status, previousKeys: withPrevious(c.status.previousKeys, { hash: k.hash, name: k.name, label: k.label, state: 'Deleted', rotatedAt: at, retireAt: at, window: c.carried.window, spentUSD: 0, allowanceUSD: 0 }) };
  }
  const created = await createKey(c, policy, c.keyBudget(budget), secret, { revoke: plan.revoke, rotation });
  if (plan.reason === 'Compromised') {
    await d.recorder.warn(c.m, 'KeyCompromised', `the key was disabled outside teamkeys, which is treated as a leak: issued ${created.label} into Secret ${c.secretName} and deleted the disabled key`);
  } else if (plan.reason !== 'Initial') {
    const why = { Deleted: 'the key was deleted outside Kubernetes', SecretLost: 'the Secret no longer held the key', ExpiryShortened: 'it would have outlived the shortened expiresAt or keyTTL', KeyExpired: 'it reached its expiry' }[plan.reason];
    await d.recorder.warn(c.m, 'KeyReplaced', `issued a new key because ${why}${retired ? ' (old key revoked)' : ''}`);
  }
  // a first key gets no Event: Ready=True KeyReady (with its transition time) says it, one write fewer per member
  return created.secret;
}

/**
 * Before a key is replaced, its spend is recorded in status.budget.retiredKeys (written with the create intent),
 * so the new key's limit is what is left, not a second full budget. Recorded by hash: a retried replacement
 * refreshes the entry instead of adding it again. A key deleted outside can no longer be read: its last
 * observed spend is used.
 */
function carryRetiredSpend(c: MemberContext, retired: Key | undefined, budget: DesiredBudget): void {
  const current = c.status.key;
  const entry = retired
    ? retiredFromKey(retired, c.now())
    : current && c.status.usage ? retiredFromObserved(current.hash, c.status.usage) : undefined;
  if (!entry) return;
  // an estimate never replaces the spend an earlier attempt read fresh (a retry finds the key already revoked)
  const retiredKeys = withRetired(c.status.budget?.retiredKeys ?? [], entry, c.now(), retired !== undefined);
  c.status = { ...c.status, budget: { ...(c.status.budget ?? { reset: budget.reset }), retiredKeys } };
  c.carried = { usd: carriedSpend(retiredKeys, budget.reset, budget.includeByok, c.now()), window: c.carried.window };
}

/**
 * A create that reached no Secret: the intent goes, and a rotation it was part of did not happen — the active key
 * is no longer draining (what asked for the rotation still does, so it is tried again).
 */
function undone(s: TeamMemberStatus): TeamMemberStatus {
  return { ...s, pendingKey: undefined, previousKeys: s.previousKeys?.filter((p) => p.hash !== s.key?.hash || p.state === 'Deleted') };
}

export type PendingRotation = NonNullable<NonNullable<TeamMemberStatus['pendingKey']>['rotation']>;

export interface CreateOptions {
  /** the key being replaced: deleted before the new one is created */
  revoke?: string | undefined;
  /** the rotation this create is part of, recorded with the intent */
  rotation?: PendingRotation | undefined;
  /** the previous key's limit for the overlap, applied after the intent and before the create */
  drain?: { hash: string; limitUSD: number } | undefined;
}

/** The rotation bookkeeping once a key was issued: a rotation counts, and a fresh key satisfies any request. */
export function issued(c: MemberContext, rotation: PendingRotation | undefined): TeamMemberStatus['rotation'] {
  const prev = c.status.rotation ?? { count: 0 };
  const request = rotation?.request ?? pendingRequest({ ...c.m, status: c.status });
  return {
    ...prev,
    ...(rotation ? { count: prev.count + 1, lastRotatedAt: new Date(c.now()).toISOString(), lastTrigger: rotation.trigger } : {}),
    ...(request ? { lastRequest: request } : {}),
  };
}

/**
 * Records the intent (and any carried spend or draining key), revokes the key being replaced or limits the one
 * rotated away from, creates the new one, writes the Secret.
 */
export async function createKey(c: MemberContext, policy: KeyPolicy, budget: DesiredBudget, secret: SecretState, o: CreateOptions = {}): Promise<{ label: string; secret: V1Secret }> {
  const d = c.d;
  const seq = (c.status.keySeq ?? 0) + 1;
  const name = keyName({ cluster: d.clusterId, namespace: c.ns, member: c.m.metadata.name, uid: c.m.metadata.uid, seq });
  const workspaceId = await d.workspaceId(policy);
  // a key is never usable without its policy's restrictions: no guardrail yet, no key yet
  const guardrail = requireGuardrail(c, policy);
  // the Secret must be writable before a key exists for it (quota, validation, admission): a refusal then costs
  // a dry run, never a key created and revoked per attempt
  const existing = secret && secret !== 'foreign' ? secret : undefined;
  const probe = desiredSecret({ member: c.m, policy: policy.spec, apiKey: DRY_RUN_KEY, keyHash: 'dry-run', hmac: keyHmac(d.hmacKey, DRY_RUN_KEY), baseUrl: d.baseUrl, existing });
  await c.writeSecret(probe, existing !== undefined, true);
  // the intent: recorded before the create call, so a crash at any instant leaves a findable key. Its instant
  // (the operator's clock) is what the key's expiry is measured from, and becomes the key's issuedAt
  const issuedAt = c.now();
  await c.patchStatus({ ...c.status, pendingKey: { name, since: new Date(issuedAt).toISOString(), ...(guardrail ? { guardrail } : {}), ...(o.rotation ? { rotation: o.rotation } : {}) }, keySeq: seq });
  if (o.revoke) {
    await d.keys.delete(o.revoke);
    d.book.remove(o.revoke);
  }
  if (o.drain) d.book.put(await d.keys.update(o.drain.hash, { limitUSD: o.drain.limitUSD }));
  let created: { key: Key; secret: string };
  try {
    created = await d.keys.create({ name, ...budget, expiresAt: keyExpiry(issuedAt, c.m.spec, policy.spec), workspaceId });
  } catch (e) {
    // only a 4xx proves nothing was created; after anything else (5xx, a cut connection, an unreadable 2xx)
    // the key may exist, so the intent stays and the next attempt starts by recovering it
    if (e instanceof OpenRouterError && e.status !== undefined && e.status >= 400 && e.status < 500 && e.kind !== 'rateLimited') {
      await c.patchStatus(undone(c.status));
      await d.recorder.warn(c.m, 'CreateFailed', e.message);
    }
    throw e;
  }
  d.book.put(created.key);
  let key = created.key;
  if (guardrail) {
    // before the Secret: a crash or a failure here leaves a key no Secret holds, which recovery revokes
    try {
      await d.guardrails.assign(guardrail, [key.hash]);
    } catch (e) {
      // the guardrail was deleted outside since the last listing: forget it, so the next attempt waits for the
      // policy to create a new one instead of issuing and revoking a key per retry
      if (isOpenRouter(e, 'notFound')) d.guardrailBook.remove(guardrail);
      throw e;
    }
    d.guardrailBook.assigned(guardrail, [key.hash]);
  }
  if (c.m.spec.suspended) {
    key = await d.keys.update(key.hash, { disabled: true });
    d.book.put(key);
  }
  const body = desiredSecret({ member: c.m, policy: policy.spec, apiKey: created.secret, keyHash: key.hash, hmac: keyHmac(d.hmacKey, created.secret), baseUrl: d.baseUrl, existing });
  const written = await c.writeSecret(body, existing !== undefined);
  // not written here: the reconcile's status write carries it (one write fewer per key). A crash before then
  // leaves the intent and a Secret holding the key, which recovery adopts by its HMAC
  c.status = { ...c.status, pendingKey: undefined, key: c.keyRef(key, undefined, new Date(issuedAt).toISOString()), rotation: issued(c, o.rotation) };
  if (o.rotation) d.observe.rotated(o.rotation.trigger);
  return { label: key.label, secret: written };
}
