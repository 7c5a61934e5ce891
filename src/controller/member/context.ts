/**
 * One member's reconcile state and its I/O: the member and status as last read or written, the spend carried
 * from replaced keys, and the guarded writes (status, Secret) every step goes through.
 */
import type { V1Secret } from '@kubernetes/client-node';
import { ANNOTATION_KEY_HASH, ANNOTATION_KEY_HMAC, type TeamMemberStatus, type KeyPolicy, type KeyRef, type TeamMember } from '../../api/schema.ts';
import { KubeError, isKube } from '../../kube/errors.ts';
import { isOpenRouter } from '../../openrouter/errors.ts';
import { toJson } from '../../util/json.ts';
import type { Key } from '../../domain/key.ts';
import { mergePatch } from '../mergepatch.ts';
import { setCondition } from '../conditions.ts';
import type { MemberDeps } from './deps.ts';
import { keyLimit, windowSpend, type DesiredBudget } from './desired.ts';
import { drainReserve } from './rotation.ts';
import { defaultSecretName, hmacMatches, isOwnedBy, previewMatches, storedApiKey } from './secret.ts';

/** The member's Secret: ours, someone else's ('foreign', only ever learned from a direct read), or none. */
export type SecretState = V1Secret | 'foreign' | undefined;

/** The API server refused the member Secret (not a conflict): reported as a condition, retried with backoff. */
export class SecretRejected extends Error {}

/** The policy wants a guardrail that does not exist yet: no key may be issued before it does. */
export class GuardrailPending extends Error {}

export class MemberContext {
  m: TeamMember;
  readonly d: MemberDeps;
  readonly ns: string;
  status: TeamMemberStatus;
  /** spend of keys replaced in the current window: the active key's limit is reduced by it */
  carried = { usd: 0, window: '' };

  constructor(m: TeamMember, d: MemberDeps) {
    this.m = m;
    this.d = d;
    this.ns = m.metadata.namespace ?? '';
    this.status = m.status ?? {};
  }

  now(): number {
    return this.d.clock.now();
  }

  get id(): string {
    return `${this.ns}/${this.m.metadata.name}`;
  }

  /**
   * The member's budget as the active key gets it: less what replaced keys spent in this window, and less what a
   * previous key still draining may spend (rotation.ts).
   */
  keyBudget(budget: DesiredBudget): DesiredBudget {
    const spentIn = (hash: string) => {
      const k = this.d.book.get(hash);
      return k && windowSpend(k, budget.reset, budget.includeByok);
    };
    return { ...budget, limitUSD: keyLimit(budget.limitUSD, this.carried.usd + drainReserve(this.status.previousKeys, this.carried.window, spentIn)) };
  }

  get secretName(): string {
    return defaultSecretName(this.m);
  }

  /** The key string the Secret holds, under the policy's data key (or where an earlier template put it). */
  storedKey(secret: SecretState, policy: KeyPolicy): string | undefined {
    return secret && secret !== 'foreign' ? storedApiKey(secret, policy.spec, this.d.hmacKey) : undefined;
  }

  /**
   * Whether the Secret still holds the key it says. The HMAC decides; if it fails only because the HMAC key
   * itself was lost (a reinstall), a matching hash annotation and key preview are enough, and the next Secret
   * convergence re-stamps the HMAC instead of every member getting a new key.
   */
  intact(secret: V1Secret, apiKey: string | undefined): boolean {
    if (apiKey === undefined) return false;
    const a = secret.metadata?.annotations;
    if (hmacMatches(this.d.hmacKey, apiKey, a?.[ANNOTATION_KEY_HMAC])) return true;
    const key = this.status.key;
    return key !== undefined && a?.[ANNOTATION_KEY_HASH] === key.hash && previewMatches(key.label, apiKey);
  }

  /** The Secret from the cache when it is ours. */
  cachedSecret(): V1Secret | undefined {
    const s = this.d.cachedSecret(this.ns, this.secretName);
    return s && isOwnedBy(s, this.m) ? s : undefined;
  }

  async readSecret(): Promise<SecretState> {
    try {
      const s = await this.d.cluster.readSecret(this.ns, this.secretName);
      return isOwnedBy(s, this.m) ? s : 'foreign';
    } catch (e) {
      if (isKube(e, 'notFound')) return undefined;
      throw e;
    }
  }

  /** Writes (or, with dryRun, only checks) the member Secret; a refusal by the API server is a SecretRejected. */
  async writeSecret(body: V1Secret, replace: boolean, dryRun = false): Promise<V1Secret> {
    try {
      return replace
        ? await this.d.cluster.replaceSecret(this.ns, this.secretName, body, dryRun)
        : await this.d.cluster.createSecret(this.ns, body, dryRun);
    } catch (e) {
      // refused for what it is (invalid, over quota, immutable, a policy webhook), not for a stale read
      if (e instanceof KubeError && (e.kind === 'invalid' || e.kind === 'forbidden')) throw new SecretRejected(e.message);
      throw e;
    }
  }

  /** Merge-patches status only when it changed, guarded by the resourceVersion this reconcile read. */
  async patchStatus(status: TeamMemberStatus): Promise<void> {
    this.status = status;
    if (mergePatch(toJson(this.m.status ?? {}), toJson(status)) === undefined) return;
    // a write names the operator that manages the member: it alone may offboard it later (identity.ts). Only a
    // write made anyway carries it, so an upgrade costs no write per member (their key names say it meanwhile)
    const next = { ...status, operator: this.d.clusterId };
    const patch = mergePatch(toJson(this.m.status ?? {}), toJson(next));
    this.status = next;
    if (patch === undefined) return;
    // every status write is guarded by resourceVersion: a stale view (a deposed leader's, a lagging cache) fails
    // with a conflict and is retried from a fresh read; it never overwrites another writer's intent
    let updated;
    try {
      updated = await this.d.cluster.patchMemberStatusGuarded(this.ns, this.m.metadata.name, this.m.metadata.resourceVersion ?? '', patch);
    } catch (e) {
      if (e instanceof KubeError && e.kind === 'invalid') await this.statusRejected(e.message);
      throw e;
    }
    this.m = { ...this.m, metadata: { ...this.m.metadata, resourceVersion: updated.metadata?.resourceVersion }, status: next };
  }

  /**
   * The API server refused a status this operator computed (a bug: every status is checked against the CRD in
   * tests). The member must not go on showing an old Ready=True: only the Ready condition is written, saying so.
   */
  private async statusRejected(message: string): Promise<void> {
    const now = new Date(this.now()).toISOString();
    const conditions = setCondition(this.m.status?.conditions, { type: 'Ready', status: 'False', reason: 'StatusRejected', message: `the API server refused the status the operator computed (please report this): ${message}` }, this.m.metadata.generation, now);
    const patch = mergePatch(toJson({ conditions: this.m.status?.conditions }), toJson({ conditions }));
    if (patch === undefined) return;
    await this.d.cluster.patchMemberStatusGuarded(this.ns, this.m.metadata.name, this.m.metadata.resourceVersion ?? '', patch).catch(() => undefined);
    await this.d.recorder.warn(this.m, 'StatusRejected', conditions.find((c) => c.type === 'Ready')?.message ?? message);
  }

  /** A key read fresh from OpenRouter (its spend up to now); undefined when it is gone (a 404). */
  async freshKey(hash: string): Promise<Key | undefined> {
    try {
      return await this.d.keys.get(hash);
    } catch (e) {
      if (isOpenRouter(e, 'notFound')) return undefined;
      throw e;
    }
  }

  /**
   * The key as status records it; createdAt and issuedAt are kept across updates of the same key. `issuedAt`:
   * when the operator asked for a new key, on its own clock.
   */
  keyRef(k: Key, prev: KeyRef | undefined, issuedAt?: string): KeyRef {
    const issued = prev?.hash === k.hash ? prev.issuedAt : issuedAt;
    return {
      hash: k.hash,
      name: k.name,
      label: k.label,
      createdAt: prev?.hash === k.hash ? prev.createdAt : k.createdAt,
      ...(issued ? { issuedAt: issued } : {}),
      ...(k.expiresAt ? { expiresAt: k.expiresAt } : {}),
      disabled: k.disabled,
      ...(k.limitUSD === undefined ? {} : { limitUSD: k.limitUSD }),
      reset: k.reset,
      includeByok: k.includeByok,
      // the mark lasts while the key stays disabled; re-enabled at OpenRouter, it is an ordinary key again
      ...(prev?.hash === k.hash && prev.disabledOutside && k.disabled ? { disabledOutside: true } : {}),
    };
  }
}
