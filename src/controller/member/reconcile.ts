/**
 * TeamMember reconcile: small idempotent steps around the pure decisions in plan.ts, desired.ts and status.ts.
 * Any decision that creates or revokes a key is confirmed against a fresh read of the member and its Secret,
 * never taken on the informer cache alone.
 */
import type { V1Secret } from '@kubernetes/client-node';
import {
  ANNOTATION_KEY_HASH, ANNOTATION_KEY_HMAC, FINALIZER, TeamMemberStatus,
  type KeyPolicy, type KeyRef, type TeamMember,
} from '../../api/schema.ts';
import { offboardee } from '../../api/objects.ts';
import { toJson } from '../../util/json.ts';
import { isKube } from '../../kube/errors.ts';
import { OpenRouterError } from '../../openrouter/errors.ts';
import type { ApiKey } from '../../openrouter/schemas.ts';
import { keyName } from '../keyname.ts';
import { mergePatch } from '../mergepatch.ts';
import { matchesSelector } from '../selector.ts';
import { effectiveBudget, fromLimitReset, keyDrift, keyExpiry, keyLimit, keyOutlivesAllowance, toLimitReset, windowId, type DesiredBudget } from './desired.ts';
import { redact } from '../../util/redact.ts';
import { nextReset } from '../../util/windows.ts';
import { disabledOutside, planKey, recoverPending } from './plan.ts';
import { defaultSecretName, desiredSecret, hmacMatches, isOwnedBy, keyHmac, previewMatches, secretUpToDate, storedApiKey } from './secret.ts';
import { KubeError } from '../../kube/errors.ts';
import { computeStatus, type Outcome } from './status.ts';
import { finalizeMember } from './finalize.ts';
import { carriedSpend, retiredFromKey, retiredFromObserved, withRetired } from './carry.ts';
import type { MemberDeps, Result } from './deps.ts';

export type { MemberDeps, Result } from './deps.ts';

function missing(m: TeamMember): never {
  throw new Error(`cannot read ${m.metadata.namespace ?? ''}/${m.metadata.name} for offboarding`);
}

const CREDENTIALS_WAIT_MS = 30_000;
/** What a dry-run Secret write carries instead of a key. */
const DRY_RUN_KEY = 'teamkeys-dry-run';

/** The API server refused the member Secret (not a conflict): reported as a condition, retried with backoff. */
class SecretRejected extends Error {}

export async function reconcileMember(member: TeamMember, d: MemberDeps): Promise<Result> {
  if (member.metadata.deletionTimestamp) return finalizeMember(offboardee(member) ?? missing(member), d);
  if (!d.credentialsValid()) return { requeueAfterMs: CREDENTIALS_WAIT_MS };
  if (!member.metadata.finalizers?.includes(FINALIZER)) {
    await d.cluster.setMemberFinalizers(member.metadata.namespace ?? '', member.metadata.name, member.metadata.resourceVersion ?? '', [...(member.metadata.finalizers ?? []), FINALIZER]);
    return {}; // the update event brings the member back with its finalizer
  }
  const ctx = new MemberContext(member, d);
  try {
    return await ctx.run();
  } catch (e) {
    if (!(e instanceof SecretRejected)) throw e;
    return ctx.secretRejected(e.message);
  }
}

class MemberContext {
  private m: TeamMember;
  private readonly d: MemberDeps;
  private readonly ns: string;
  private status: TeamMemberStatus;
  /** spend of keys replaced in the current window: the active key's limit is reduced by it */
  private carried = { usd: 0, window: '' };

  constructor(m: TeamMember, d: MemberDeps) {
    this.m = m;
    this.d = d;
    this.ns = m.metadata.namespace ?? '';
    this.status = m.status ?? {};
  }

  private now(): number {
    return this.d.clock.now();
  }

  async run(): Promise<Result> {
    const d = this.d;
    const policy = d.policy(this.m.spec.policy);
    if (!policy) return this.blocked({ ready: false, reason: 'PolicyNotFound', message: `KeyPolicy "${this.m.spec.policy}" does not exist` });
    if (!matchesSelector(policy.spec.namespaceSelector, d.namespaceLabels(this.ns))) {
      return this.blocked({ ready: false, reason: 'PolicyNotAllowed', message: `KeyPolicy "${this.m.spec.policy}" does not allow namespace "${this.ns}" (see its spec.namespaceSelector)` }, policy);
    }
    const decision = effectiveBudget(this.m.spec, policy.spec);
    // the key keeps its last applied limit: a typo in limitUSD must not cut someone off
    if (!decision.ok) return this.blocked({ ready: false, reason: decision.reason, message: decision.message }, policy, false);
    const budget = decision.budget;
    const expired = this.m.spec.expiresAt !== undefined && Date.parse(this.m.spec.expiresAt) <= this.now();
    const window = windowId(budget.reset, this.now());
    const carriedBefore = () => carriedSpend(this.status.budget?.retiredKeys, budget.reset, budget.includeByok, this.now());
    this.carried = { usd: carriedBefore(), window };
    const keyBudget = (): DesiredBudget => ({ ...budget, limitUSD: keyLimit(budget.limitUSD, this.carried.usd) });

    let secret: V1Secret | 'foreign' | undefined = this.ownedSecret();
    let plan = planKey(this.planInput(secret, !expired, policy));
    if (plan.kind !== 'keep') {
      d.log.debug({ member: `${this.ns}/${this.m.metadata.name}`, plan: plan.kind, reason: plan.kind === 'create' ? plan.reason : undefined }, 'key plan from the cache; confirming');
      // confirm against the API server before creating or revoking anything
      const fresh = await d.readMember(this.ns, this.m.metadata.name);
      if (!fresh || fresh.metadata.deletionTimestamp) return {};
      this.m = { ...fresh, spec: this.m.spec };
      this.status = fresh.status ?? {};
      secret = await this.readSecret();
      if (plan.kind === 'recover' || !d.book.freshSince(Date.parse(this.status.key?.createdAt ?? '1970-01-01'))) {
        await d.refreshBook();
      }
      plan = planKey(this.planInput(secret, !expired, policy));
      // a list can miss a key (offsets shift when keys are deleted mid-list): only a 404 proves it is gone
      const current = this.status.key;
      if (plan.kind === 'create' && plan.reason === 'Deleted' && current) {
        try {
          d.book.put(await d.client.getKey(current.hash));
          plan = planKey(this.planInput(secret, !expired, policy));
        } catch (e) {
          if (!(e instanceof OpenRouterError && e.kind === 'notFound')) throw e;
        }
      }
      this.carried = { usd: carriedBefore(), window };
    }

    if (plan.kind === 'recover') {
      const revoked = await this.recover(secret, policy);
      // revoking means the last create did not reach its Secret: back off instead of creating again at once
      if (revoked > 0) return { retry: true };
      // nothing was left behind: go on in this same pass, so a create that keeps failing keeps its backoff
      // (a pass that ends well would reset it, and a failing POST would be retried about once a second)
      plan = planKey(this.planInput(secret, !expired, policy));
    }
    if (plan.kind === 'create') {
      // the namespace controller deletes Secrets and members in no set order: a member of a namespace being
      // deleted that has lost its Secret is about to be deleted itself, and no new key could be written anyway
      if (d.namespaceTerminating(this.ns)) return { requeueAfterMs: CREDENTIALS_WAIT_MS };
      if (secret === 'foreign') return this.blocked({ ready: false, reason: 'SecretConflict', message: `Secret ${this.ns}/${defaultSecretName(this.m)} exists and is not managed by teamkeys; delete it or set spec.secretName` }, policy);
      // the retiring key's spend, read fresh: what it spent since the last list counts too. Only a 404 falls
      // back to the last observation; any other failure retries later rather than carry a stale number
      const retired = plan.revoke ? await this.readRetiring(plan.revoke) : undefined;
      if (plan.reason !== 'Initial') this.carryRetiredSpend(retired, budget);
      const created = await this.createKey(policy, keyBudget(), secret, plan.revoke);
      if (plan.reason === 'Compromised') {
        await d.recorder.warn(this.m, 'KeyCompromised', `the key was disabled outside teamkeys, which is treated as a leak: issued ${created.label} into Secret ${defaultSecretName(this.m)} and deleted the disabled key`);
      } else if (plan.reason !== 'Initial') {
        const why = { Deleted: 'the key was deleted outside Kubernetes', SecretLost: 'the Secret no longer held the key', ExpiryShortened: 'it would have outlived the shortened expiresAt or keyTTL', KeyExpired: 'it reached its expiry' }[plan.reason];
        await d.recorder.warn(this.m, 'KeyReplaced', `issued a new key because ${why}${retired ? ' (old key revoked)' : ''}`);
      } else {
        await d.recorder.normal(this.m, 'KeyProvisioned', `issued key ${created.label} into Secret ${defaultSecretName(this.m)}`);
      }
      secret = created.secret;
    }

    if (plan.kind === 'hold' && this.status.key && !this.status.key.disabledOutside) {
      this.status = { ...this.status, key: { ...this.status.key, disabledOutside: true } };
    }
    const key = this.status.key;
    let observed = key ? d.book.get(key.hash) : undefined;
    // an expired member's key is disabled as well: its expires_at may be later than a shortened spec.expiresAt;
    // a key disabled outside stays disabled whatever the spec says (never switched back on)
    const disabled = this.m.spec.suspended || expired || disabledOutside(key, observed);
    if (key && observed && keyDrift(observed, keyBudget(), disabled)) {
      observed = await this.converge(key, observed, keyBudget(), disabled);
    }
    if (key && secret && secret !== 'foreign') await this.convergeSecret(policy, secret);

    const outcome: Outcome = expired
      ? { ready: false, reason: 'Expired', message: `the member's expiresAt ${this.m.spec.expiresAt ?? ''} has passed` }
      : this.m.spec.suspended
        ? { ready: false, reason: 'Suspended', message: 'spec.suspended is true: the key is disabled' }
        : plan.kind === 'hold'
          ? { ready: false, reason: 'DisabledOutside', message: `key ${key?.label ?? ''} was disabled outside teamkeys (treated as leaked) and the policy respects that (onDisabledOutside: Respect): re-enable it at OpenRouter, or delete Secret ${defaultSecretName(this.m)} to get a new key` }
          : { ready: true, reason: 'KeyReady', message: `key ${key?.label ?? ''} is active and in Secret ${defaultSecretName(this.m)}` };
    await this.finish(outcome, observed, budget, policy);
    return this.requeue(expired);
  }

  /**
   * Before a key is replaced, its spend is recorded in status.budget.retiredKeys (written with the create intent),
   * so the new key's limit is what is left, not a second full budget. Recorded by hash: a retried replacement
   * refreshes the entry instead of adding it again. A key deleted outside can no longer be read: its last
   * observed spend is used.
   */
  private carryRetiredSpend(retired: ApiKey | undefined, budget: DesiredBudget): void {
    const current = this.status.key;
    const entry = retired
      ? retiredFromKey(retired, this.now())
      : current && this.status.usage ? retiredFromObserved(current.hash, this.status.usage) : undefined;
    if (!entry) return;
    const retiredKeys = withRetired(this.status.budget?.retiredKeys ?? [], entry, this.now());
    this.status = { ...this.status, budget: { ...(this.status.budget ?? { reset: budget.reset }), retiredKeys } };
    this.carried = { usd: carriedSpend(retiredKeys, budget.reset, budget.includeByok, this.now()), window: this.carried.window };
  }

  private async readRetiring(hash: string): Promise<ApiKey | undefined> {
    try {
      return await this.d.client.getKey(hash);
    } catch (e) {
      if (e instanceof OpenRouterError && e.kind === 'notFound') return undefined;
      throw e;
    }
  }

  private requeue(expired: boolean): Result {
    const ends: number[] = [];
    // a reduced key limit goes back to the full limit when the window resets
    const reset = this.status.budget?.reset;
    if (this.carried.usd > 0 && reset && reset !== 'never') ends.push(nextReset(reset, this.now()) - this.now() + 1_000);
    if (!expired && this.m.spec.expiresAt) ends.push(Date.parse(this.m.spec.expiresAt) - this.now() + 1_000);
    const keyEnd = this.status.key?.expiresAt;
    if (!expired && keyEnd) ends.push(Date.parse(keyEnd) - this.now() + 1_000);
    return ends.length > 0 ? { requeueAfterMs: Math.max(1_000, Math.min(...ends)) } : {};
  }

  private planInput(secret: V1Secret | 'foreign' | undefined, wantKey: boolean, policy: KeyPolicy) {
    const key = this.status.key;
    const own = secret && secret !== 'foreign' ? secret : undefined;
    const apiKey = own ? storedApiKey(own, policy.spec, this.d.hmacKey) : undefined;
    const created = key ? Date.parse(key.createdAt) : this.now();
    return {
      status: this.status,
      wantKey,
      observed: key ? this.d.book.get(key.hash) : undefined,
      listedSinceKeyCreated: this.d.book.freshSince(created),
      secret: own ? { keyHash: own.metadata?.annotations?.[ANNOTATION_KEY_HASH], intact: this.intact(own, apiKey) } : undefined,
      outlivesAllowance: key ? keyOutlivesAllowance(key.expiresAt, key.createdAt, this.m.spec, policy.spec) : false,
      wantEnabled: wantKey && !this.m.spec.suspended,
      onDisabledOutside: policy.spec.onDisabledOutside,
      now: this.now(),
    };
  }

  /**
   * Whether the Secret still holds the key it says. The HMAC decides; if it fails only because the HMAC key
   * itself was lost (a reinstall), a matching hash annotation and key preview are enough, and the next Secret
   * convergence re-stamps the HMAC instead of every member getting a new key.
   */
  private intact(secret: V1Secret, apiKey: string | undefined): boolean {
    if (apiKey === undefined) return false;
    const a = secret.metadata?.annotations;
    if (hmacMatches(this.d.hmacKey, apiKey, a?.[ANNOTATION_KEY_HMAC])) return true;
    const key = this.status.key;
    return key !== undefined && a?.[ANNOTATION_KEY_HASH] === key.hash && previewMatches(key.label, apiKey);
  }

  /** The Secret from the cache when it is ours; 'foreign' is only ever learned from a direct read. */
  private ownedSecret(): V1Secret | undefined {
    const s = this.d.cachedSecret(this.ns, defaultSecretName(this.m));
    return s && isOwnedBy(s, this.m) ? s : undefined;
  }

  private async readSecret(): Promise<V1Secret | 'foreign' | undefined> {
    try {
      const s = await this.d.cluster.readSecret(this.ns, defaultSecretName(this.m));
      return isOwnedBy(s, this.m) ? s : 'foreign';
    } catch (e) {
      if (isKube(e, 'notFound')) return undefined;
      throw e;
    }
  }

  /** A create was in flight when the operator stopped: keep what reached the Secret, revoke the rest. */
  private async recover(secret: V1Secret | 'foreign' | undefined, policy: KeyPolicy): Promise<number> {
    const pending = this.status.pendingKey;
    if (!pending) return 0;
    const candidates = this.d.book.byName(pending.name);
    const own = secret && secret !== 'foreign' ? secret : undefined;
    const apiKey = own ? storedApiKey(own, policy.spec, this.d.hmacKey) : undefined;
    const intact = own !== undefined && hmacMatches(this.d.hmacKey, apiKey ?? '', own.metadata?.annotations?.[ANNOTATION_KEY_HMAC]);
    const { adopt, revoke } = recoverPending(candidates, own?.metadata?.annotations?.[ANNOTATION_KEY_HASH], intact);
    for (const hash of revoke) {
      await this.d.client.deleteKey(hash);
      this.d.book.remove(hash);
      this.d.log.warn({ member: `${this.ns}/${this.m.metadata.name}`, hash }, 'revoked a key left behind by an interrupted create');
    }
    if (revoke.length > 0) await this.d.recorder.warn(this.m, 'OrphanRevoked', `revoked ${revoke.length} key(s) left behind by an interrupted create`);
    const next: TeamMemberStatus = { ...this.status, pendingKey: undefined };
    if (adopt) next.key = this.keyRef(adopt, this.status.key);
    await this.patchStatus(next);
    return revoke.length;
  }

  /** Records the intent (and any carried spend), revokes the key being replaced, creates the new one, writes the Secret. */
  private async createKey(policy: KeyPolicy, budget: DesiredBudget, secret: V1Secret | 'foreign' | undefined, revoke: string | undefined): Promise<{ label: string; secret: V1Secret }> {
    const d = this.d;
    const seq = (this.status.keySeq ?? 0) + 1;
    const name = keyName({ cluster: d.clusterId, namespace: this.ns, member: this.m.metadata.name, uid: this.m.metadata.uid, seq });
    const workspaceId = await d.workspaceId(policy);
    // the Secret must be writable before a key exists for it (quota, validation, admission): a refusal then costs
    // a dry run, never a key created and revoked per attempt
    const existing = secret && secret !== 'foreign' ? secret : undefined;
    const probe = desiredSecret({ member: this.m, policy: policy.spec, apiKey: DRY_RUN_KEY, keyHash: 'dry-run', hmac: keyHmac(d.hmacKey, DRY_RUN_KEY), baseUrl: d.baseUrl, existing });
    await this.writeSecret(probe, existing !== undefined, true);
    // the intent: recorded before the create call, so a crash at any instant leaves a findable key
    await this.patchStatus({ ...this.status, pendingKey: { name, since: new Date(this.now()).toISOString() }, keySeq: seq });
    if (revoke) {
      await d.client.deleteKey(revoke);
      d.book.remove(revoke);
    }
    let created: { key: ApiKey; secret: string };
    try {
      created = await d.client.createKey({
        name,
        limit: budget.limitUSD ?? null,
        limit_reset: toLimitReset(budget.reset),
        include_byok_in_limit: budget.includeByok,
        expires_at: keyExpiry(this.now(), this.m.spec, policy.spec) ?? null,
        ...(workspaceId ? { workspace_id: workspaceId } : {}),
      });
    } catch (e) {
      // only a 4xx proves nothing was created; after anything else (5xx, a cut connection, an unreadable 2xx)
      // the key may exist, so the intent stays and the next attempt starts by recovering it
      if (e instanceof OpenRouterError && e.status !== undefined && e.status >= 400 && e.status < 500 && e.kind !== 'rateLimited') {
        await this.patchStatus({ ...this.status, pendingKey: undefined });
        await d.recorder.warn(this.m, 'CreateFailed', e.message);
      }
      throw e;
    }
    d.book.put(created.key);
    let key = created.key;
    if (this.m.spec.suspended) {
      key = await d.client.updateKey(key.hash, { disabled: true });
      d.book.put(key);
    }
    const body = desiredSecret({ member: this.m, policy: policy.spec, apiKey: created.secret, keyHash: key.hash, hmac: keyHmac(d.hmacKey, created.secret), baseUrl: d.baseUrl, existing });
    const written = await this.writeSecret(body, existing !== undefined);
    await this.patchStatus({ ...this.status, pendingKey: undefined, key: this.keyRef(key, undefined) });
    return { label: key.label, secret: written };
  }

  private keyRef(k: ApiKey, prev: KeyRef | undefined): KeyRef {
    return {
      hash: k.hash,
      name: k.name,
      label: k.label,
      createdAt: prev?.hash === k.hash ? prev.createdAt : k.created_at,
      ...(k.expires_at ? { expiresAt: k.expires_at } : {}),
      disabled: k.disabled,
      ...(k.limit === null ? {} : { limitUSD: k.limit }),
      reset: fromLimitReset(k.limit_reset),
      includeByok: k.include_byok_in_limit,
      // the mark lasts while the key stays disabled; re-enabled at OpenRouter, it is an ordinary key again
      ...(prev?.hash === k.hash && prev.disabledOutside && k.disabled ? { disabledOutside: true } : {}),
    };
  }

  /** Puts the key back to what the member should have; an outside change is reported as drift. */
  private async converge(key: KeyRef, observed: ApiKey, budget: DesiredBudget, disabled: boolean): Promise<ApiKey> {
    const d = this.d;
    const outside = (observed.disabled !== key.disabled && !key.disabledOutside) || (observed.limit ?? undefined) !== key.limitUSD || fromLimitReset(observed.limit_reset) !== key.reset || observed.include_byok_in_limit !== key.includeByok;
    const updated = await this.patchKey(key.hash, { disabled, limit: budget.limitUSD ?? null, limit_reset: toLimitReset(budget.reset), include_byok_in_limit: budget.includeByok });
    d.book.put(updated);
    this.status = { ...this.status, key: this.keyRef(updated, key) };
    if (outside) await d.recorder.warn(this.m, 'DriftCorrected', `the key was changed outside Kubernetes (disabled=${observed.disabled}, limit=${observed.limit ?? 'none'}); restored it`);
    else if (observed.disabled !== disabled) await d.recorder.normal(this.m, disabled ? 'KeyDisabled' : 'KeyEnabled', disabled ? 'disabled the key at OpenRouter' : 're-enabled the key at OpenRouter');
    else await d.recorder.normal(this.m, 'KeyUpdated', `applied limit ${budget.limitUSD ?? 'none'} USD, reset ${budget.reset}`);
    return updated;
  }

  /** PATCH a key; a 404 means it was deleted outside since the last list: forget it and let the retry replace it. */
  private async patchKey(hash: string, req: Parameters<MemberDeps['client']['updateKey']>[1]): Promise<ApiKey> {
    try {
      return await this.d.client.updateKey(hash, req);
    } catch (e) {
      if (e instanceof OpenRouterError && e.kind === 'notFound') this.d.book.remove(hash);
      throw e;
    }
  }

  /** Keeps labels, annotations and non-key data of the Secret in line with the policy's template. */
  private async convergeSecret(policy: KeyPolicy, secret: V1Secret): Promise<void> {
    const key = this.status.key;
    const apiKey = storedApiKey(secret, policy.spec, this.d.hmacKey);
    if (!key || !apiKey) return;
    const want = desiredSecret({ member: this.m, policy: policy.spec, apiKey, keyHash: key.hash, hmac: keyHmac(this.d.hmacKey, apiKey), baseUrl: this.d.baseUrl, existing: secret });
    if (secretUpToDate(secret, want)) return;
    await this.writeSecret(want, true);
  }

  /** Writes (or, with dryRun, only checks) the member Secret; a refusal by the API server is a SecretRejected. */
  private async writeSecret(body: V1Secret, replace: boolean, dryRun = false): Promise<V1Secret> {
    try {
      return replace
        ? await this.d.cluster.replaceSecret(this.ns, defaultSecretName(this.m), body, dryRun)
        : await this.d.cluster.createSecret(this.ns, body, dryRun);
    } catch (e) {
      // refused for what it is (invalid, over quota, immutable, a policy webhook), not for a stale read
      if (e instanceof KubeError && (e.kind === 'invalid' || e.kind === 'forbidden')) throw new SecretRejected(e.message);
      throw e;
    }
  }

  /** The API server refuses the Secret: say so with its reason, keep the key as it is, back off. */
  async secretRejected(reason: string): Promise<Result> {
    const name = `${this.ns}/${defaultSecretName(this.m)}`;
    await this.blocked({ ready: false, reason: 'SecretRejected', message: `the API server refused Secret ${name}: ${redact(reason)}` }, this.d.policy(this.m.spec.policy), false);
    return { retry: true };
  }

  /** A member that cannot be served as asked: report why, disable its key unless told not to, create nothing. */
  private async blocked(outcome: Outcome, policy?: KeyPolicy, disable = true): Promise<Result> {
    const key = this.status.key;
    if (key && disable && this.d.credentialsValid()) {
      const observed = this.d.book.get(key.hash);
      if (observed && !observed.disabled) {
        const updated = await this.patchKey(key.hash, { disabled: true });
        this.d.book.put(updated);
        this.status = { ...this.status, key: this.keyRef(updated, key) };
        await this.d.recorder.warn(this.m, 'KeyDisabled', `disabled the key: ${outcome.message}`);
      }
    }
    await this.finish(outcome, key ? this.d.book.get(key.hash) : undefined, undefined, policy);
    return {};
  }

  private async finish(outcome: Outcome, observed: ApiKey | undefined, budget: DesiredBudget | undefined, policy: KeyPolicy | undefined): Promise<void> {
    const prevReady = this.m.status?.conditions?.find((c) => c.type === 'Ready');
    const { status, notes } = computeStatus({
      member: this.m,
      prev: this.status,
      now: new Date(this.now()).toISOString(),
      secretName: defaultSecretName(this.m),
      key: this.status.key,
      pendingKey: this.status.pendingKey,
      keySeq: this.status.keySeq,
      observed,
      budget,
      carried: this.carried,
      warnAtPercent: policy?.spec.usage?.warnAtPercent ?? 80,
      outcome,
      suspended: this.m.spec.suspended,
      expired: outcome.reason === 'Expired',
    });
    await this.patchStatus(status);
    for (const n of notes) await this.d.recorder.emit(this.m, n.type, n.reason, n.message);
    const nowReady = status.conditions?.find((c) => c.type === 'Ready');
    if (nowReady && (prevReady?.status !== nowReady.status || prevReady.reason !== nowReady.reason) && nowReady.status === 'False' && !['Suspended', 'Expired'].includes(nowReady.reason)) {
      await this.d.recorder.warn(this.m, nowReady.reason, nowReady.message);
    }
  }

  /** Merge-patches status only when it changed, guarded by the resourceVersion this reconcile read. */
  private async patchStatus(next: TeamMemberStatus): Promise<void> {
    const patch = mergePatch(toJson(this.m.status ?? {}), toJson(next));
    this.status = next;
    if (patch === undefined) return;
    // every status write is guarded by resourceVersion: a stale view (a deposed leader's, a lagging cache) fails
    // with a conflict and is retried from a fresh read; it never overwrites another writer's intent
    const updated = await this.d.cluster.patchMemberStatusGuarded(this.ns, this.m.metadata.name, this.m.metadata.resourceVersion ?? '', patch);
    this.m = { ...this.m, metadata: { ...this.m.metadata, resourceVersion: updated.metadata?.resourceVersion }, status: TeamMemberStatus.parse(toJson(next)) };
  }
}
