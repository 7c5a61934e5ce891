/** Keeping an existing key and its Secret equal to what the member should have. */
import type { V1Secret } from '@kubernetes/client-node';
import type { KeyPolicy, KeyRef } from '../../api/schema.ts';
import { KubeError } from '../../kube/errors.ts';
import { isOpenRouter } from '../../openrouter/errors.ts';
import type { Key, KeyChange } from '../../domain/key.ts';
import type { MemberContext } from './context.ts';
import type { DesiredBudget } from './desired.ts';
import { desiredSecret, keyHmac, secretUpToDate } from './secret.ts';

/** Puts the key back to what the member should have; an outside change is reported as drift. */
export async function convergeKey(c: MemberContext, key: KeyRef, observed: Key, budget: DesiredBudget, disabled: boolean): Promise<Key> {
  const d = c.d;
  const outside = (observed.disabled !== key.disabled && !key.disabledOutside) || observed.limitUSD !== key.limitUSD || observed.reset !== key.reset || observed.includeByok !== key.includeByok;
  if (disabled && !observed.disabled) await recordDisabling(c, key);
  const updated = await patchKey(c, key.hash, { disabled, limitUSD: budget.limitUSD ?? null, reset: budget.reset, includeByok: budget.includeByok });
  c.status = { ...c.status, key: c.keyRef(updated, key) };
  if (outside) await d.recorder.warn(c.m, 'DriftCorrected', `the key was changed outside Kubernetes (disabled=${observed.disabled}, limit=${observed.limitUSD ?? 'none'}); restored it`);
  else if (observed.disabled !== disabled) await d.recorder.normal(c.m, disabled ? 'KeyDisabled' : 'KeyEnabled', disabled ? 'disabled the key at OpenRouter' : 're-enabled the key at OpenRouter');
  else await d.recorder.normal(c.m, 'KeyUpdated', `applied limit ${budget.limitUSD ?? 'none'} USD, reset ${budget.reset}`);
  return updated;
}

/** Disables the member's key (when it is enabled) and says why. */
export async function disableKey(c: MemberContext, why: string): Promise<void> {
  const key = c.status.key;
  const observed = key ? c.d.book.get(key.hash) : undefined;
  if (!key || !observed || observed.disabled) return;
  await recordDisabling(c, key);
  const updated = await patchKey(c, key.hash, { disabled: true });
  c.status = { ...c.status, key: c.keyRef(updated, key) };
  await c.d.recorder.warn(c.m, 'KeyDisabled', `disabled the key: ${why}`);
}

/**
 * Record, then act: the key is written down as disabled by the operator before the PATCH that disables it, so a
 * status write lost after it (a conflict, a crash) never makes the operator's own act look like one from outside
 * (which would replace the key as leaked).
 */
async function recordDisabling(c: MemberContext, key: KeyRef): Promise<void> {
  if (key.disabled) return;
  try {
    await c.patchStatus({ ...c.status, key: { ...key, disabled: true } });
  } catch (e) {
    // refused outright (nothing was written): offboarding never waits on a status write, the key goes off anyway
    if (!(e instanceof KubeError && e.kind === 'invalid')) throw e;
  }
}

/** PATCH a key; a 404 means it was deleted outside since the last list: forget it and let the retry replace it. */
async function patchKey(c: MemberContext, hash: string, change: KeyChange): Promise<Key> {
  try {
    const updated = await c.d.keys.update(hash, change);
    c.d.book.put(updated);
    return updated;
  } catch (e) {
    if (isOpenRouter(e, 'notFound')) c.d.book.remove(hash);
    throw e;
  }
}

/** Keeps labels, annotations and non-key data of the Secret in line with the policy's template. */
export async function convergeSecret(c: MemberContext, policy: KeyPolicy, secret: V1Secret): Promise<void> {
  const key = c.status.key;
  const apiKey = c.storedKey(secret, policy);
  if (!key || !apiKey) return;
  const want = desiredSecret({ member: c.m, policy: policy.spec, apiKey, keyHash: key.hash, hmac: keyHmac(c.d.hmacKey, apiKey), baseUrl: c.d.baseUrl, existing: secret });
  if (secretUpToDate(secret, want)) return;
  await c.writeSecret(want, true);
}

/**
 * A policy without a guardrail leaves its keys unrestricted: a key still on one of this operator's guardrails
 * (its member moved here from a restricted policy) is taken off it. Assigning is the policy's job (in bulk).
 */
export async function releaseGuardrail(c: MemberContext, policy: KeyPolicy): Promise<void> {
  const key = c.status.key;
  if (!key || c.d.guardrailFor(policy).kind !== 'none') return;
  const on = c.d.guardrailBook.guardrailOfKey(key.hash);
  if (on === undefined) return;
  await c.d.guardrails.unassign(on, [key.hash]);
  c.d.guardrailBook.unassigned(on, [key.hash]);
  await c.d.recorder.normal(c.m, 'GuardrailReleased', `KeyPolicy "${policy.metadata.name}" restricts no model or provider: took key ${key.label} off guardrail ${on}`);
}
