/**
 * TeamMember reconcile, as named steps around the pure decisions in plan.ts, desired.ts and status.ts:
 * admit (policy, namespace, budget) → plan (from the cache, confirmed against fresh reads before any create or
 * revoke) → recover / provision (a new key) → converge (the key and the Secret) → report (status, Events).
 */
import { ANNOTATION_KEY_HASH, ANNOTATION_REACTIVATE, FINALIZER, type KeyPolicy, type TeamMember } from '../../api/schema.ts';
import type { ConditionInput } from '../conditions.ts';
import { offboardee } from '../../api/objects.ts';
import { isOpenRouter } from '../../openrouter/errors.ts';
import { redact } from '../../util/redact.ts';
import { nextReset } from '../../util/windows.ts';
import { matchesSelector } from '../selector.ts';
import type { Key } from '../../domain/key.ts';
import { carriedSpend } from './carry.ts';
import { GuardrailPending, MemberContext, SecretRejected, type SecretState } from './context.ts';
import { convergeKey, convergeSecret, disableKey, releaseGuardrail } from './converge.ts';
import type { MemberDeps, Result } from './deps.ts';
import { effectiveBudget, keyDrift, keyOutlivesAllowance, windowId, windowSpend, type DesiredBudget } from './desired.ts';
import { expiredAt, standing, type Standing } from './standing.ts';
import { replaceNotBefore } from './throttle.ts';
import { confirmDraining, rotate, tendPrevious } from './rotate.ts';
import { confirmedKey } from './confirm.ts';
import { nextPreviousKeyStep, rotating, rotationAsked, scheduledRotation } from './rotation.ts';
import { finalizeMember } from './finalize.ts';
import { inactiveMessage, tendInactivity } from './idle.ts';
import { idleState, nextIdleStep } from './inactivity.ts';
import { disabledOutside, planKey, type KeyPlan } from './plan.ts';
import { provision, recover } from './provision.ts';
import { computeStatus, type Outcome } from './status.ts';
import { analyticsView, keptAnalytics } from './analytics.ts';
import { nextActivity } from './inactivity.ts';

export type { MemberDeps, Result } from './deps.ts';

const CREDENTIALS_WAIT_MS = 30_000;
/** How soon a member waiting for its policy's guardrail looks again (the policy's status write also wakes it). */
const GUARDRAIL_WAIT_MS = 30_000;
/** How long a scheduled rotation waits for a free slot before it asks again. */
const SLOT_WAIT_MS = 60_000;

export async function reconcileMember(read: TeamMember, d: MemberDeps): Promise<Result> {
  let member = read;
  if (member.metadata.deletionTimestamp) {
    const view = offboardee(member);
    if (!view) throw new Error(`cannot read ${member.metadata.namespace ?? ''}/${member.metadata.name} for offboarding`);
    return finalizeMember(view, d);
  }
  if (!d.credentialsValid()) return { requeueAfterMs: CREDENTIALS_WAIT_MS };
  if (!member.metadata.finalizers?.includes(FINALIZER)) {
    const finalizers = [...(member.metadata.finalizers ?? []), FINALIZER];
    const updated = await d.cluster.setMemberFinalizers(member.metadata.namespace ?? '', member.metadata.name, member.metadata.resourceVersion ?? '', finalizers);
    // go on from the version just written: waiting for its watch event would send the member to the back of the queue
    member = { ...member, metadata: { ...member.metadata, finalizers, resourceVersion: updated.metadata?.resourceVersion } };
  }
  const c = new MemberContext(member, d);
  try {
    return await run(c);
  } catch (e) {
    if (e instanceof GuardrailPending) {
      await blocked(c, { ready: false, reason: 'GuardrailPending', message: e.message }, d.policy(c.m.spec.policy), false);
      return { requeueAfterMs: GUARDRAIL_WAIT_MS };
    }
    if (!(e instanceof SecretRejected)) throw e;
    // the API server refuses the Secret: say so with its reason, keep the key as it is, back off
    await blocked(c, { ready: false, reason: 'SecretRejected', message: `the API server refused Secret ${c.ns}/${c.secretName}: ${redact(e.message)}` }, d.policy(c.m.spec.policy), false);
    return { retry: true };
  }
}

/** What the member may have: its policy, and the budget that policy allows it. */
type Admission = { ok: true; policy: KeyPolicy; budget: DesiredBudget } | { ok: false; outcome: Outcome; policy?: KeyPolicy; disable: boolean };

async function run(c: MemberContext): Promise<Result> {
  const admitted = admit(c);
  if (!admitted.ok) return blocked(c, admitted.outcome, admitted.policy, admitted.disable);
  const { policy, budget } = admitted;
  const expired = expiredAt(c.m.spec.expiresAt, c.now());
  await tendInactivity(c, policy, budget);
  // an expired member, and one whose idle key was deleted, gets no key until something deliberate changes
  const wantKey = !expired && !c.status.inactive?.keyDeleted;
  const planned = await plan(c, policy, budget, wantKey);
  if (!planned) return {}; // deleted meanwhile
  let { plan: p, secret } = planned;

  if (p.kind === 'recover') {
    const revoked = await recover(c, secret, policy);
    // revoking means the last create did not reach its Secret: back off instead of creating again at once
    if (revoked > 0) return { retry: true };
    // nothing was left behind: go on in this same pass, so a create that keeps failing keeps its backoff
    // (a pass that ends well would reset it, and a failing POST would be retried about once a second)
    p = planKey(planInput(c, secret, wantKey, policy));
  }
  // a replacement replaced too often lately waits (throttle.ts); the rest of the pass goes on as for any key kept
  const throttled = p.kind === 'create' && p.reason !== 'Initial' ? throttledUntil(c) : undefined;
  if (throttled !== undefined && p.kind === 'create') {
    if (p.reason === 'Compromised' && c.status.key) c.status = { ...c.status, key: { ...c.status.key, disabledOutside: true } };
    // a Secret that does not hold the key is left as it is until the key is replaced (never stamped as if it did)
    if (p.reason === 'SecretLost') secret = undefined;
    c.d.log.info({ member: c.id, reason: p.reason, until: new Date(throttled).toISOString() }, 'key replacement throttled');
  } else if (p.kind === 'create') {
    // the namespace controller deletes Secrets and members in no set order: a member of a namespace being
    // deleted that has lost its Secret is about to be deleted itself, and no new key could be written anyway
    if (c.d.namespaceTerminating(c.ns)) return { requeueAfterMs: CREDENTIALS_WAIT_MS };
    if (secret === 'foreign') return blocked(c, { ready: false, reason: 'SecretConflict', message: `Secret ${c.ns}/${c.secretName} exists and is not managed by teamkeys; delete it or set spec.secretName` }, policy);
    secret = await provision(c, p, policy, budget, secret);
  }
  if (p.kind === 'keep' && wantKey && !c.m.spec.suspended && !c.status.inactive && secret !== 'foreign') {
    const ask = rotationAsked({ ...c.m, status: c.status }, policy.spec, c.now());
    // scheduled rotations are bounded in number (--max-concurrent-rotations); asked-for ones are not
    if (ask && (ask.trigger !== 'Scheduled' || c.d.rotationSlot(c.id))) secret = (await rotate(c, policy, budget, ask, secret)) ?? secret;
  }
  if (p.kind === 'hold' && c.status.key && !c.status.key.disabledOutside) {
    c.status = { ...c.status, key: { ...c.status.key, disabledOutside: true } };
  }

  await confirmDraining(c);
  const observed = await converge(c, policy, budget, expired, secret);
  // a suspended, expired or inactive member's previous key stops working too
  await tendPrevious(c, policy, budget, expired || c.m.spec.suspended || c.status.inactive !== undefined);
  await report(c, outcome(c, p, policy, throttled), observed, budget, policy);
  const again = requeue(c, expired, policy);
  return throttled === undefined ? again : { requeueAfterMs: Math.max(1_000, Math.min(again.requeueAfterMs ?? Number.POSITIVE_INFINITY, throttled - c.now() + 1_000)) };
}

/** When an automatic replacement of the current key may happen, if not now. */
function throttledUntil(c: MemberContext): number | undefined {
  const at = replaceNotBefore(c.status.budget?.retiredKeys, c.status.key?.issuedAt, c.now());
  return at > c.now() ? at : undefined;
}

/** The member's standing (standing.ts) as this pass sees it. */
function standingOf(c: MemberContext, policy: KeyPolicy | undefined): Standing {
  const name = c.m.spec.policy;
  return standing({
    deleting: c.m.metadata.deletionTimestamp !== undefined,
    suspended: c.m.spec.suspended,
    expiresAt: c.m.spec.expiresAt,
    now: c.now(),
    policy: { name, found: policy !== undefined, allowsNamespace: policy !== undefined && matchesSelector(policy.spec.namespaceSelector, c.d.namespaceLabels(c.ns)) },
    namespace: c.ns,
    budget: policy ? effectiveBudget(c.m.spec, policy.spec) : undefined,
    inactive: c.status.inactive !== undefined,
  });
}

/**
 * The policy and budget to serve the member with; otherwise what to report and whether the key goes off. A member
 * that may have no usable key (suspended, expired) is served as usual when its policy is fine (its key is
 * disabled there), and otherwise blocked with its key disabled, whatever else is wrong.
 */
function admit(c: MemberContext): Admission {
  const policy = c.d.policy(c.m.spec.policy);
  const allowed = policy !== undefined && matchesSelector(policy.spec.namespaceSelector, c.d.namespaceLabels(c.ns));
  const decision = policy ? effectiveBudget(c.m.spec, policy.spec) : undefined;
  if (policy && allowed && decision?.ok) return { ok: true, policy, budget: decision.budget };
  const s = standingOf(c, policy);
  if (s.kind === 'off' || s.kind === 'frozen') {
    // frozen: the key keeps its last applied limit, so a typo in limitUSD does not cut someone off
    return { ok: false, outcome: { ready: false, reason: s.reason, message: s.message }, ...(policy ? { policy } : {}), disable: s.kind === 'off' };
  }
  throw new Error(`member ${c.id}: no standing for a policy that does not admit it`);
}

/**
 * The key plan. From the cache when it says keep; anything else (create, revoke, recover) is confirmed against
 * a fresh read of the member, its Secret and (when older than the key) the key list. Undefined: the member is gone.
 */
async function plan(c: MemberContext, policy: KeyPolicy, budget: DesiredBudget, wantKey: boolean): Promise<{ plan: KeyPlan; secret: SecretState } | undefined> {
  const d = c.d;
  const window = windowId(budget.reset, c.now());
  const carry = () => {
    c.carried = { usd: carriedSpend(c.status.budget?.retiredKeys, budget.reset, budget.includeByok, c.now()), window };
  };
  carry();
  await readIfDisagreeing(c);
  let secret: SecretState = c.cachedSecret();
  let p = planKey(planInput(c, secret, wantKey, policy));
  if (p.kind === 'keep') return { plan: p, secret };
  d.log.debug({ member: c.id, plan: p.kind, reason: p.kind === 'create' ? p.reason : undefined }, 'key plan from the cache; confirming');
  const fresh = await d.readMember(c.ns, c.m.metadata.name);
  if (!fresh || fresh.metadata.deletionTimestamp) return undefined;
  c.m = { ...fresh, spec: c.m.spec };
  c.status = fresh.status ?? {};
  secret = await c.readSecret();
  const issued = c.status.key?.issuedAt ?? c.status.key?.createdAt;
  if (p.kind === 'recover' || !d.book.freshSince(Date.parse(issued ?? '1970-01-01'))) await d.refreshBook();
  p = planKey(planInput(c, secret, wantKey, policy));
  // a list can miss a key (offsets shift when keys are deleted mid-list): only a 404 proves it is gone
  const current = c.status.key;
  if (p.kind === 'create' && p.reason === 'Deleted' && current) {
    try {
      d.book.put(await d.keys.get(current.hash));
      p = planKey(planInput(c, secret, wantKey, policy));
    } catch (e) {
      if (!isOpenRouter(e, 'notFound')) throw e;
    }
  }
  carry();
  return { plan: p, secret };
}

/**
 * Status and the listed key disagree on whether it is disabled: the listing may predate the operator's own PATCH
 * (recorded before it was sent, whose answer was lost), or OpenRouter's change may be newer than the listing. Only
 * a fresh read tells which, before anything is judged from it (a key disabled outside is replaced as leaked).
 */
async function readIfDisagreeing(c: MemberContext): Promise<void> {
  const key = c.status.key;
  const listed = key ? c.d.book.get(key.hash) : undefined;
  if (!key || !listed || listed.disabled === key.disabled) return;
  const fresh = await c.freshKey(key.hash);
  if (fresh) c.d.book.put(fresh);
  else c.d.book.remove(key.hash);
}

function planInput(c: MemberContext, secret: SecretState, wantKey: boolean, policy: KeyPolicy) {
  const key = c.status.key;
  const own = secret && secret !== 'foreign' ? secret : undefined;
  const created = key ? Date.parse(key.issuedAt ?? key.createdAt) : c.now();
  return {
    status: c.status,
    wantKey,
    observed: key ? c.d.book.get(key.hash) : undefined,
    listedSinceKeyCreated: c.d.book.freshSince(created),
    secret: own ? { keyHash: own.metadata?.annotations?.[ANNOTATION_KEY_HASH], intact: c.intact(own, c.storedKey(own, policy)) } : undefined,
    outlivesAllowance: key ? keyOutlivesAllowance(key, c.m.spec, policy.spec) : false,
    wantEnabled: wantKey && !c.m.spec.suspended && !c.status.inactive,
    onDisabledOutside: policy.spec.onDisabledOutside,
    now: c.now(),
  };
}

/** The key's parameters and the Secret's template, brought to what the member should have. */
async function converge(c: MemberContext, policy: KeyPolicy, budget: DesiredBudget, expired: boolean, secret: SecretState): Promise<Key | undefined> {
  const key = c.status.key;
  // (a key the listing missed is read: an expired member's key is disabled and a new limit applied all the same)
  let observed = key ? await confirmedKey(c.d, key.hash) : undefined;
  // an expired member's key is disabled as well: its expires_at may be later than a shortened spec.expiresAt;
  // a key disabled outside stays disabled whatever the spec says (never switched back on)
  const disabled = c.m.spec.suspended || expired || c.status.inactive !== undefined || disabledOutside(key, observed);
  if (key && observed && keyDrift(observed, c.keyBudget(budget), disabled)) observed = await convergeKey(c, key, observed, c.keyBudget(budget), disabled);
  // already as it should be: status follows the key (a PATCH whose status write was lost to a crash landed anyway)
  else if (key && observed) c.status = { ...c.status, key: c.keyRef(observed, key) };
  if (key && secret && secret !== 'foreign') await convergeSecret(c, policy, secret);
  await releaseGuardrail(c, policy);
  return observed;
}

function outcome(c: MemberContext, p: KeyPlan, policy: KeyPolicy, throttled: number | undefined): Outcome {
  const s = standingOf(c, policy);
  if (s.kind === 'off') return { ready: false, reason: s.reason, message: s.reason === 'Inactive' ? inactiveMessage(c, policy) : s.message };
  if (s.kind === 'frozen') return { ready: false, reason: s.reason, message: s.message };
  if (throttled !== undefined && p.kind === 'create') {
    return { ready: false, reason: 'ReplacementThrottled', message: `the key needs replacing (${p.reason}), but it was replaced too often lately: the next replacement is due at ${new Date(throttled).toISOString()}` };
  }
  const label = c.status.key?.label ?? '';
  if (p.kind === 'hold') {
    return { ready: false, reason: 'DisabledOutside', message: `key ${label} was disabled outside teamkeys (treated as leaked) and the policy respects that (onDisabledOutside: Respect): re-enable it at OpenRouter, or delete Secret ${c.secretName} to get a new key` };
  }
  return { ready: true, reason: 'KeyReady', message: `key ${label} is active and in Secret ${c.secretName}` };
}

/** When to look again without an event: the window reset (a reduced limit goes back up) and either expiry. */
function requeue(c: MemberContext, expired: boolean, policy?: KeyPolicy): Result {
  const now = c.now();
  const ends: number[] = [];
  const reset = c.status.budget?.reset;
  if (c.carried.usd > 0 && reset && reset !== 'never') ends.push(nextReset(reset, now) - now + 1_000);
  if (!expired && c.m.spec.expiresAt) ends.push(Date.parse(c.m.spec.expiresAt) - now + 1_000);
  const keyEnd = c.status.key?.expiresAt;
  if (!expired && keyEnd) ends.push(Date.parse(keyEnd) - now + 1_000);
  // rotation: the next scheduled one, a previous key to retire or delete, and a window boundary while one drains
  const scheduled = policy ? scheduledRotation(c.status, c.m.metadata.uid, policy.spec) : undefined;
  // due but not started: all --max-concurrent-rotations slots were taken; look again later, not every second
  if (scheduled !== undefined && !c.m.spec.suspended && !expired && !c.status.inactive) ends.push(scheduled > now ? scheduled - now + 1_000 : SLOT_WAIT_MS);
  const idle = policy?.spec.inactivity;
  const idleStep = nextIdleStep(idle, c.status.activity, idleState(idle, c.status.activity, now));
  if (idleStep !== undefined && !expired) ends.push(Math.max(0, idleStep - now) + 1_000);
  const step = nextPreviousKeyStep(c.status.previousKeys);
  if (step !== undefined) ends.push(step - now + 1_000);
  if (rotating(c.status) && reset && reset !== 'never') ends.push(nextReset(reset, now) - now + 1_000);
  // a member without a key still shows spend: it goes to zero when its window turns (status.ts rolled)
  const u = c.status.usage;
  if (!c.status.key && u && u.dailyUSD + u.weeklyUSD + u.monthlyUSD + u.windowUSD > 0) ends.push(nextReset('daily', now) - now + 1_000);
  return ends.length > 0 ? { requeueAfterMs: Math.max(1_000, Math.min(...ends)) } : {};
}

/** A member that cannot be served as asked: report why, disable its key unless told not to, create nothing. */
async function blocked(c: MemberContext, why: Outcome, policy: KeyPolicy | undefined, disable = true): Promise<Result> {
  if (c.d.credentialsValid()) {
    // a key the listing missed is read before it is judged: it is disabled, and reported, all the same
    if (c.status.key) await confirmedKey(c.d, c.status.key.hash);
    if (disable) await disableKey(c, why.message);
    await tendPrevious(c, policy, undefined, disable);
  }
  const key = c.status.key;
  await report(c, why, key ? c.d.book.get(key.hash) : undefined, undefined, policy);
  return {};
}

function inactivityCondition(c: MemberContext, policy: KeyPolicy | undefined): ConditionInput | undefined {
  const idle = policy?.spec.inactivity;
  const inactive = c.status.inactive;
  if (inactive) return { type: 'Inactive', status: 'True', reason: inactive.keyDeleted ? 'KeyDeleted' : 'KeyDisabled', message: `no spend since ${c.status.activity?.lastSpendAt ?? inactive.since}; annotate ${ANNOTATION_REACTIVATE}=<new value> to bring the key back` };
  if (!idle) return undefined;
  return { type: 'Inactive', status: 'False', reason: 'Active', message: `the key is disabled after ${idle.disableAfter} without spend${idle.deleteAfter ? ` and deleted after ${idle.deleteAfter}` : ''}` };
}

/** Writes the status the outcome deserves, and the Events its change calls for. */
async function report(c: MemberContext, out: Outcome, observed: Key | undefined, budget: DesiredBudget | undefined, policy: KeyPolicy | undefined): Promise<void> {
  const prevReady = c.m.status?.conditions?.find((x) => x.type === 'Ready');
  const nextRotation = policy ? scheduledRotation(c.status, c.m.metadata.uid, policy.spec) : undefined;
  const usage = budget ? c.d.usage(c.m.metadata.uid) : undefined;
  // a key issued in this pass starts its activity record in this same write, not in the next pass's
  c.status = { ...c.status, activity: nextActivity(c.status.activity, c.status.key, observed, new Date(c.now()).toISOString()) };
  const { status, notes } = computeStatus({
    member: c.m,
    prev: c.status,
    now: new Date(c.now()).toISOString(),
    secretName: c.secretName,
    key: c.status.key,
    pendingKey: c.status.pendingKey,
    keySeq: c.status.keySeq,
    observed,
    budget,
    carried: c.carried,
    warnAtPercent: policy?.spec.usage?.warnAtPercent ?? 80,
    outcome: out,
    suspended: c.m.spec.suspended,
    expired: out.reason === 'Expired',
    nextRotationAt: nextRotation === undefined ? undefined : new Date(nextRotation).toISOString(),
    inactivity: inactivityCondition(c, policy),
    analytics: usage && budget ? { ...analyticsView(usage.rows, budget.reset, c.now(), budget.includeByok, keptAnalytics(c.m.status, budget)), at: usage.at } : undefined,
    drainingUSD: budget ? (c.status.previousKeys ?? []).filter((p) => p.state === 'Draining').reduce((sum, p) => {
      const k = c.d.book.get(p.hash);
      return sum + (k && p.window === c.carried.window ? windowSpend(k, budget.reset, budget.includeByok) : 0);
    }, 0) : undefined,
  });
  await c.patchStatus(status);
  for (const n of notes) await c.d.recorder.emit(c.m, n.type, n.reason, n.message);
  const nowReady = status.conditions?.find((x) => x.type === 'Ready');
  if (nowReady && (prevReady?.status !== nowReady.status || prevReady.reason !== nowReady.reason) && nowReady.status === 'False' && !['Suspended', 'Expired'].includes(nowReady.reason)) {
    await c.d.recorder.warn(c.m, nowReady.reason, nowReady.message);
  }
}
