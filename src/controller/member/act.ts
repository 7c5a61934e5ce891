/**
 * Act: performs what decide.ts chose, in its order — the inactivity step, the revocation of what an interrupted
 * create left, the key action (issue, rotate, or nothing), then convergence (the key's parameters, the Secret's
 * template, a guardrail it should no longer hold) and the previous keys. Every call goes through a port; each step
 * takes the progress so far and returns the next, and the status is written only where a step must record before
 * it acts (an intent, a disabling), the rest once by the report.
 */
import { timed } from './rotation.ts';
import { ANNOTATION_REACTIVATE, type KeyRef } from '../../api/schema.ts';
import type { Key } from '../../domain/key.ts';
import { ignoreNotFound } from './gather.ts';
import type { Decision, IdleStep } from './decide.ts';
import { carryRetired, keyDrift, type DesiredBudget } from './budget.ts';
import type { Result } from './deps.ts';
import { keyRef } from './plan.ts';
import type { Pass, Progress } from './pass.ts';
import { tendPrevious } from './previous.ts';
import { provision, rotate } from './provision.ts';
import { desiredSecret, keyHmac, secretUpToDate, storedApiKey } from './secret.ts';
import { SecretRejected, StatusRejected } from '../../domain/errors.ts';
import { redact } from '../../util/redact.ts';
import type { Outcome } from './status.ts';

type Served = Extract<Decision, { kind: 'served' }>;

export type Acted = Progress & {
  /** the current key as OpenRouter last showed it */
  observed: Key | undefined;
  /** why the member is not served (undefined: it is, and the report says how) */
  blocked: Outcome | undefined;
  /** previous keys stop working now (the member may not have a working key) */
  retireNow: boolean;
  /** what the pass returns instead of the usual requeue; with `stop`, it ends without a report */
  result?: Result | undefined;
  stop?: boolean | undefined;
};

/** Why a member is not served in this pass, what its key gets, and what the pass returns. */
interface Blocking {
  outcome: Outcome;
  disable: boolean;
  result: Result;
}

/** Performs the decision; a Secret the API server refuses turns the pass into a blocked one. */
export async function act(p: Pass, dec: Decision): Promise<Acted> {
  const done = dec.kind === 'served'
    ? await serve(p, dec)
    : { blocking: { outcome: dec.outcome, disable: dec.disable, result: {} }, progress: { status: dec.status, carried: { usd: 0, window: '' }, secret: undefined } };
  const keyed = 'blocking' in done ? await blocked(p, done.progress, done.blocking) : done;
  if (keyed.stop) return keyed;
  // a suspended, expired or inactive member's previous key stops working too; a member not served has no budget
  // to hold a draining key to: its previous keys are only retired
  const s = p.d.credentialsValid() ? await tendPrevious(keyed.blocked ? { ...p, budget: undefined } : p, keyed, keyed.retireNow) : keyed;
  return { ...keyed, ...s };
}

/**
 * A member served by its policy: inactivity, what an interrupted create left, the key action, convergence. What
 * inactivity and recovery changed is written before the key action, as record-then-act asks.
 */
async function serve(p: Pass, dec: Served): Promise<Acted | { blocking: Blocking; progress: Progress }> {
  const { d, v } = p;
  const budget = dec.budget;
  const k = dec.key;
  // scheduled rotations are bounded in number (--max-concurrent-rotations); asked-for ones are not
  const rotating = k.kind === 'rotate' && (!timed(k.ask.trigger) || k.ask.urgent === true || d.rotationSlot(v.id));
  // the key about to go (deleted idle, replaced, rotated away from) is read fresh, once: what it spent since the
  // last list counts too. Gone (a 404), the last observation stands in; any other failure retries the pass
  const going = dec.idle.kind === 'deleteKey' ? dec.idle.key.hash : k.kind === 'create' ? k.plan.revoke : rotating ? dec.status.key?.hash : undefined;
  const fresh = going === undefined ? undefined : v.readFresh.has(going) ? v.keys.get(going) : await d.keys.get(going).catch(ignoreNotFound);
  let s: Progress = { status: dec.status, carried: dec.carried, secret: dec.secret === 'own' && v.secret.kind === 'own' ? v.secret.obj : undefined };
  // record, then act: the spend of a key that goes (deleted idle, replaced) is carried in the status written before
  // it goes, so the next key gets only what is left (a replaced key deleted outside: its spend as last observed)
  if (dec.idle.kind === 'deleteKey' || (k.kind === 'create' && k.plan.reason !== 'Initial')) s = { ...s, ...carryRetired(s.status, fresh, budget, s.carried, v.now, k.kind === 'create') };
  s = await tendIdle(p, s, dec.idle);
  // (a first key's implied intent has nothing to clear: only the keys it left are revoked)
  if (v.status.pendingKey || dec.revoke.length > 0) {
    // revoking means the last create did not reach its Secret: back off instead of creating again at once
    for (const hash of dec.revoke) {
      await d.keys.delete(hash);
      d.log.warn({ member: v.id, hash }, 'revoked a key left behind by an interrupted create');
    }
    if (dec.revoke.length > 0) await d.events.warn(v.member, 'OrphanRevoked', `revoked ${dec.revoke.length} key(s) left behind by an interrupted create`);
    s = { ...s, status: await p.journal.save(s.status) };
    if (dec.adopted) d.observe.rotated(dec.adopted.trigger);
    if (dec.revoke.length > 0) return { ...s, observed: undefined, blocked: undefined, retireNow: false, result: { retry: true }, stop: true };
  }
  if (k.kind === 'wait') return { ...s, observed: undefined, blocked: undefined, retireNow: false, result: { requeueAfterMs: k.ms }, stop: true };
  if (k.kind === 'block') return { blocking: { outcome: k.outcome, disable: k.disable, result: k.retryAfterMs === undefined ? {} : { requeueAfterMs: k.retryAfterMs } }, progress: s };
  if (k.kind === 'throttled') d.log.info({ member: v.id, reason: k.plan.reason, until: new Date(k.until).toISOString() }, 'key replacement throttled');
  try {
    // (a create that keeps failing keeps its backoff: the pass fails, and a recovery just made goes on into it)
    if (k.kind === 'create') s = await provision(p, budget, s, k, fresh);
    if (k.kind === 'rotate' && rotating) s = await rotate(p, budget, s, k.ask, k.guardrail, fresh);
    return { ...(await converge(p, dec, s)), blocked: undefined, retireNow: dec.retireNow };
  } catch (e) {
    if (!(e instanceof SecretRejected)) throw e;
    // the API server refuses the Secret: say so with its reason, keep the key as it is (and the status as last
    // written), back off
    const message = `the API server refused Secret ${v.ns}/${v.secretName}: ${redact(e.message)}`;
    return { blocking: { outcome: { ready: false, reason: 'SecretRejected', message }, disable: false, result: { retry: true } }, progress: { ...s, status: p.journal.status } };
  }
}

/** A member that cannot be served as asked: its key is disabled unless told not to, and nothing is created. */
async function blocked(p: Pass, s0: Progress, b: Blocking): Promise<Acted> {
  const { d } = p;
  let s: Progress = { ...s0, carried: { usd: 0, window: '' }, secret: undefined };
  if (b.disable && d.credentialsValid()) s = await disableKey(p, s, b.outcome.message);
  const key = s.status.key;
  return { ...s, observed: key ? d.book.get(key.hash) : undefined, blocked: b.outcome, retireNow: b.disable, result: b.result };
}

async function tendIdle(p: Pass, s: Progress, step: IdleStep): Promise<Progress> {
  const { d, v } = p;
  if (step.kind === 'reactivated') {
    // written at once: a pass that ends early (blocked, refused) must not announce it again
    const recorded = await p.journal.save(s.status);
    await d.events.normal(v.member, 'KeyReactivated', `reactivated (${step.by}): ${step.keyDeleted ? 'a new key is issued' : 'the key is enabled again'}`);
    return { ...s, status: recorded };
  }
  if (step.kind !== 'deleteKey') return s;
  // record, then act: the intent and the key's spend (read fresh) are written before the delete, so a retry
  // after a delete that landed but answered an error (the key is gone: a 404) still counts what it spent
  // against the member's limit when a new key is issued. A crash after it deletes again (a 404 counts as deleted)
  const key = step.key;
  const recorded = await p.journal.save(s.status);
  await d.keys.delete(key.hash);
  await d.events.warn(v.member, 'InactiveKeyDeleted', `deleted key ${key.label}: no spend since ${recorded.activity?.lastSpendAt ?? ''} (inactivity.deleteAfter ${p.policy.inactivity?.deleteAfter ?? ''}); annotate ${ANNOTATION_REACTIVATE}=<new value> for a new key`);
  return { ...s, status: { ...recorded, key: undefined } };
}

/** The key's parameters and the Secret's template, brought to what the member should have. */
async function converge(p: Pass, dec: Served, s: Progress): Promise<Progress & { observed: Key | undefined }> {
  const { d } = p;
  const key = s.status.key;
  let observed = key ? d.book.get(key.hash) : undefined;
  // a key issued in this pass is off only when the member may have no working key; the one decided on may also
  // have been disabled outside, and stays disabled whatever the spec says (never switched back on)
  const disabled = key?.hash === dec.status.key?.hash ? dec.keyOff : dec.retireNow;
  const want = s.issuedWith ?? dec.want;
  let status = s.status;
  if (key && observed && keyDrift(observed, want, disabled)) {
    const changed = await convergeKey(p, status, key, observed, want, disabled);
    ({ status, observed } = changed);
  } else if (key && observed) {
    // already as it should be: status follows the key (a PATCH whose status write was lost to a crash landed anyway)
    status = { ...status, key: keyRef(observed, key) };
  }
  const secret = key && s.secret ? await convergeSecret(p, key, s.secret) : s.secret;
  await releaseGuardrail(p, status.key);
  return { ...s, status, secret, observed };
}

/** Puts the key back to what the member should have; an outside change is reported as drift. */
async function convergeKey(p: Pass, s0: Progress['status'], key: KeyRef, observed: Key, budget: DesiredBudget, disabled: boolean): Promise<{ status: Progress['status']; observed: Key }> {
  const { d, v } = p;
  const outside = (observed.disabled !== key.disabled && !key.disabledOutside) || observed.limitUSD !== key.limitUSD || observed.reset !== key.reset || observed.includeByok !== key.includeByok;
  const s = disabled && !observed.disabled ? await recordDisabling(p, s0, key) : s0;
  const updated = await d.keys.update(key.hash, { disabled, limitUSD: budget.limitUSD ?? null, reset: budget.reset, includeByok: budget.includeByok });
  if (outside) await d.events.warn(v.member, 'DriftCorrected', `the key was changed outside Kubernetes (disabled=${observed.disabled}, limit=${observed.limitUSD ?? 'none'}); restored it`);
  else if (observed.disabled !== disabled) await d.events.normal(v.member, disabled ? 'KeyDisabled' : 'KeyEnabled', disabled ? 'disabled the key at OpenRouter' : 're-enabled the key at OpenRouter');
  else await d.events.normal(v.member, 'KeyUpdated', `applied limit ${budget.limitUSD ?? 'none'} USD, reset ${budget.reset}`);
  return { status: { ...s, key: keyRef(updated, key) }, observed: updated };
}

/** Disables the member's key (when it is enabled) and says why. */
async function disableKey(p: Pass, s: Progress, why: string): Promise<Progress> {
  const { d, v } = p;
  const key = s.status.key;
  const observed = key ? d.book.get(key.hash) : undefined;
  if (!key || !observed || observed.disabled) return s;
  const recorded = await recordDisabling(p, s.status, key);
  const updated = await d.keys.update(key.hash, { disabled: true });
  await d.events.warn(v.member, 'KeyDisabled', `disabled the key: ${why}`);
  return { ...s, status: { ...recorded, key: keyRef(updated, key) } };
}

/**
 * Record, then act: the key is written down as disabled by the operator before the PATCH that disables it, so a
 * status write lost after it (a conflict, a crash) never makes the operator's own act look like one from outside
 * (which would replace the key as leaked).
 */
async function recordDisabling(p: Pass, s: Progress['status'], key: KeyRef): Promise<Progress['status']> {
  if (key.disabled) return s;
  const next = { ...s, key: { ...key, disabled: true } };
  try {
    return await p.journal.save(next);
  } catch (e) {
    // refused outright (nothing was written): offboarding never waits on a status write, the key goes off anyway
    if (!(e instanceof StatusRejected)) throw e;
    return next;
  }
}

/** Keeps labels, annotations and non-key data of the Secret in line with the policy's template. */
async function convergeSecret(p: Pass, key: KeyRef, secret: NonNullable<Progress['secret']>): Promise<Progress['secret']> {
  const { d, v, policy } = p;
  const apiKey = storedApiKey(secret, policy, d.hmacKey);
  if (!apiKey) return secret;
  const want = desiredSecret({ member: v.member, policy, apiKey, keyHash: key.hash, hmac: keyHmac(d.hmacKey, apiKey), baseUrl: d.baseUrl, existing: secret });
  if (secretUpToDate(secret, want)) return secret;
  return d.secrets.write(want, true);
}

/**
 * A policy without a guardrail leaves its keys unrestricted: a key still on one of this operator's guardrails
 * (its member moved here from a restricted policy) is taken off it. Assigning is the policy's job (in bulk).
 */
async function releaseGuardrail(p: Pass, key: KeyRef | undefined): Promise<void> {
  const { d, v, policy } = p;
  if (!key || v.guardrail?.kind !== 'none') return;
  const on = d.guardrailBook.guardrailOfKey(key.hash);
  if (on === undefined) return;
  await d.guardrails.unassign(on, [key.hash]);
  await d.events.normal(v.member, 'GuardrailReleased', `KeyPolicy "${policy.name}" restricts no model or provider: took key ${key.label} off guardrail ${on}`);
}
