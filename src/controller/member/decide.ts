/**
 * Decide, purely, from one view: what the member may have (the gate chain, below), what inactivity asks,
 * what an interrupted create left (recover), the key plan (plan.ts), whether a replacement waits (the throttle, below),
 * whether a rotation starts, and every status change that needs no answer from outside. The act step performs
 * exactly this; whatever it learns (a key's fresh spend, the new key) is bookkept there with the pure helpers.
 */
import type { ResolvedPolicy } from '../../api/policy.ts';
import type { Key } from '../../domain/key.ts';
import { ANNOTATION_ISSUED_AT, ANNOTATION_REACTIVATE, type KeyRef, type PreviousKey, type TeamMemberStatus } from '../../api/schema.ts';
import type { MemberView } from './gather.ts';
import { previewMatches } from './secret.ts';
import { carriedSpend, effectiveBudget, keyBudget, windowId, type BudgetDecision, type DesiredBudget, type RetiredKey } from './budget.ts';
import { disabledOutside, impliedIntent, issued, keyOutlivesAllowance, keyRef, planKey, recoverPending, undone, type KeyPlan, type PendingRotation } from './plan.ts';
import { rotationAsked, timed, withPrevious, type RotationAsk } from './rotation.ts';
import type { Outcome } from './status.ts';

export type Create = Extract<KeyPlan, { kind: 'create' }>;

/** What inactivity does in this pass (the status change itself is in Decision.status). */
export type IdleStep =
  | { kind: 'none' }
  | { kind: 'reactivated'; by: string; keyDeleted: boolean }
  /** record the key's fresh spend and the intent, then delete it (the key goes from status in the same pass) */
  | { kind: 'deleteKey'; key: KeyRef };

/** The one thing done to the member's key in this pass, before it is converged. */
export type KeyAction =
  | { kind: 'keep' }
  | { kind: 'hold' }
  /** (a replacement of a leaked key is recorded as a rotation, the key kept in the history as deleted) */
  | { kind: 'create'; plan: Create; guardrail: string | undefined; rotation: PendingRotation | undefined }
  | { kind: 'rotate'; ask: RotationAsk; guardrail: string | undefined }
  /** a replacement replaced too often lately: it waits until `until`, the rest of the pass goes on */
  | { kind: 'throttled'; plan: Create; until: number }
  /** nothing is done now: look again after `ms` */
  | { kind: 'wait'; ms: number }
  /** the key plan cannot be carried out (someone else's Secret, no guardrail yet): report why, disable unless told not */
  | { kind: 'block'; outcome: Outcome; disable: boolean; retryAfterMs: number | undefined };

export type Decision =
  /** the member cannot be served as asked: report why, disable its key unless told not to, create nothing */
  | { kind: 'blocked'; outcome: Outcome; disable: boolean; status: TeamMemberStatus; confirm: boolean }
  | {
    kind: 'served';
    /** decided from the caches, and it would create, revoke or recover: decide again from a fresh view first */
    confirm: boolean;
    budget: DesiredBudget;
    expired: boolean;
    /** status after every change decided here: inactivity, recovery, marks */
    status: TeamMemberStatus;
    /** spend of replaced keys in the current window, and that window */
    carried: { usd: number; window: string };
    idle: IdleStep;
    /** an interrupted create found its keys: revoke these (then retry), having adopted the one the Secret holds */
    revoke: string[];
    adopted: PendingRotation | undefined;
    plan: KeyPlan;
    key: KeyAction;
    /** the Secret the pass converges (undefined: leave it as it is) */
    secret: 'own' | undefined;
    /** previous keys stop working now (the member may not have a working key) */
    retireNow: boolean;
    /** the current key must be off: as above, or disabled outside (a leaked key is never switched back on) */
    keyOff: boolean;
    /** the budget the current key should have: the member's, less what replaced and draining keys take */
    want: DesiredBudget;
  };

/** How soon a member waiting for its policy's guardrail looks again (the policy's status write also wakes it). */
const GUARDRAIL_WAIT_MS = 30_000;
/** How soon a member of a namespace being deleted looks again. */
const TERMINATING_WAIT_MS = 30_000;

export function decide(v: MemberView): Decision {
  const spec = v.member.spec;
  const policy = v.policy;
  const verdict = policy ? effectiveBudget(spec, policy) : undefined;
  // what replaced keys spent in the window counts against the key (recovery and inactivity leave them as they are)
  const b = policy?.budget;
  const carried = b && { usd: carriedSpend(v.status.budget?.retiredKeys, b.reset, b.includeByok, v.now), window: windowId(b.reset, v.now) };
  if (!policy || !v.allowed || !verdict?.ok || !carried) {
    const s = standingOf(v, v.status, verdict);
    if (s.kind !== 'off' && s.kind !== 'frozen') throw new Error(`member ${v.id}: no standing for a policy that does not admit it`);
    // frozen: the key keeps its last applied limit, so a typo in limitUSD does not cut someone off
    return { kind: 'blocked', outcome: { ready: false, reason: s.reason, message: s.message }, disable: s.kind === 'off', status: v.status, confirm: false };
  }
  const budget = verdict.budget;
  const expired = expiredAt(spec.expiresAt, v.now);
  const idle = inactivity(v);
  let status = idle.status;
  // an expired member, and one whose idle key was deleted, gets no key until something deliberate changes
  const wantKey = !expired && !status.inactive?.keyDeleted;
  const found = recovery(v, status);
  status = found.status;
  const secret = v.secret.kind === 'own' ? 'own' as const : undefined;
  const input = planInput(v, policy, status, wantKey);
  const plan: KeyPlan = found.revoke.length > 0 ? { kind: 'recover' } : planKey(input);
  // (keys found under a first key's implied intent mean a crash: confirmed too, though adopting one plans a keep)
  const confirm = v.source === 'cache' && (v.status.pendingKey !== undefined || plan.kind !== 'keep' || v.candidates.length > 0);
  // an expired member's key is disabled as well: its expires_at may be later than a shortened spec.expiresAt
  const retireNow = expired || spec.suspended || status.inactive !== undefined;
  const current = status.key;
  const keyOff = retireNow || disabledOutside(current, current && observedKey(v, current.hash));
  const want = keyBudget(budget, carried, status.previousKeys, (h) => observedKey(v, h));
  const base = { kind: 'served' as const, confirm, budget, expired, carried, idle: idle.step, revoke: found.revoke, adopted: found.adopted, retireNow, keyOff, want };
  if (plan.kind === 'recover') return { ...base, status, plan, key: { kind: 'keep' }, secret };
  const guardrail = v.guardrail?.kind === 'ready' ? v.guardrail.id : undefined;
  const pending = v.guardrail?.kind === 'pending' ? guardrailPending(policy.name) : v.workspace.kind === 'pending' ? workspacePending(policy.name, v.workspace.ref, v.workspace.why) : undefined;
  if (plan.kind === 'create') {
    const at = plan.reason === 'Initial' ? v.now : replaceNotBefore(status.budget?.retiredKeys, status.key?.issuedAt, v.now);
    if (at > v.now) {
      // a Secret that does not hold the key is left as it is until the key is replaced (never stamped as if it did)
      const marked = plan.reason === 'Compromised' && status.key ? { ...status, key: { ...status.key, disabledOutside: true } } : status;
      return { ...base, status: marked, plan, key: { kind: 'throttled', plan, until: at }, secret: plan.reason === 'SecretLost' ? undefined : secret };
    }
    // the namespace controller deletes Secrets and members in no set order: a member of a namespace being
    // deleted that has lost its Secret is about to be deleted itself, and no new key could be written anyway
    if (v.terminating) return { ...base, status, plan, key: { kind: 'wait', ms: TERMINATING_WAIT_MS }, secret };
    if (v.secret.kind === 'foreign') return { ...base, status, plan, key: { kind: 'block', outcome: { ready: false, reason: 'SecretConflict', message: `Secret ${v.ns}/${v.secretName} exists and is not managed by teamkeys; delete it or set spec.secretName` }, disable: true, retryAfterMs: undefined }, secret: undefined };
    if (pending) return { ...base, status, plan, key: pending, secret };
    const old = status.key;
    const rotation: PendingRotation | undefined = plan.reason === 'Compromised' && old ? { trigger: 'Compromised', from: old.hash } : undefined;
    if (!rotation || !old) return { ...base, status, plan, key: { kind: 'create', plan, guardrail, rotation }, secret };
    // a leaked key is kept in the rotation history, and deleted at once
    const now = new Date(v.now).toISOString();
    const leaked: PreviousKey = { hash: old.hash, name: old.name, label: old.label, state: 'Deleted', rotatedAt: now, retireAt: now, window: carried.window, spentUSD: 0, allowanceUSD: 0 };
    return { ...base, status: { ...status, previousKeys: withPrevious(status.previousKeys, leaked, policy.rotation.historyLimit) }, plan, key: { kind: 'create', plan, guardrail, rotation }, secret };
  }
  if (plan.kind === 'hold') {
    const marked = status.key && !status.key.disabledOutside ? { ...status, key: { ...status.key, disabledOutside: true } } : status;
    return { ...base, status: marked, plan, key: { kind: 'hold' }, secret };
  }
  if (plan.kind === 'keep' && wantKey && !spec.suspended && !status.inactive && v.secret.kind !== 'foreign') {
    const ask = rotationAsked({ ...v.member, status }, policy, v.now, keyMoved(v, status.key));
    // a rotation asked for waits for the guardrail, reported; a scheduled one simply comes later (its slot untaken)
    if (ask && pending) return { ...base, status, plan, key: timed(ask.trigger) && !ask.urgent ? { kind: 'keep' } : pending, secret };
    if (ask) return { ...base, status, plan, key: { kind: 'rotate', ask, guardrail }, secret };
  }
  return { ...base, status, plan, key: { kind: 'keep' }, secret };
}

/** No key is issued without the guardrail its policy wants; the policy's status write wakes the member when it exists. */
function guardrailPending(policy: string): Extract<KeyAction, { kind: 'block' }> {
  return { kind: 'block', outcome: { ready: false, reason: 'GuardrailPending', message: `KeyPolicy "${policy}" restricts models or providers and its guardrail does not exist yet: no key is issued without it` }, disable: false, retryAfterMs: GUARDRAIL_WAIT_MS };
}

/** No key is issued before the workspace of its policy's pool exists (never in another workspace instead). */
function workspacePending(policy: string, ref: string, why: string): Extract<KeyAction, { kind: 'block' }> {
  return { kind: 'block', outcome: { ready: false, reason: 'WorkspacePending', message: `KeyPolicy "${policy}" puts its keys in workspace ${ref}, ${why}: no key is issued elsewhere` }, disable: false, retryAfterMs: GUARDRAIL_WAIT_MS };
}

/**
 * Whether the key is in a workspace its policy moved away from: any other than a known target, or (moving back to
 * the default workspace, whose id is not known) one the policy's status lists as left.
 */
function keyMoved(v: MemberView, key: KeyRef | undefined): boolean {
  if (!key || v.workspace.kind === 'pending') return false;
  const at = key.workspaceId ?? observedKey(v, key.hash)?.workspaceId;
  if (at === undefined) return false;
  return v.workspace.kind === 'ready' ? at !== v.workspace.id : v.formerWorkspaces.has(at);
}

/** The member's standing (the gate chain, below) as this pass sees it. */
export function standingOf(v: MemberView, status: TeamMemberStatus, verdict = v.policy ? effectiveBudget(v.member.spec, v.policy) : undefined): Standing {
  return standing({
    deleting: v.member.metadata.deletionTimestamp !== undefined,
    suspended: v.member.spec.suspended,
    expiresAt: v.member.spec.expiresAt,
    now: v.now,
    policy: { name: v.member.spec.policy, found: v.policy !== undefined, allowsNamespace: v.allowed },
    namespace: v.ns,
    budget: verdict,
    inactive: status.inactive !== undefined,
  });
}

/**
 * The inactivity step: records when spend last moved, marks a key idle for too long (converge disables it),
 * deletes it when the policy says so, and brings it back on a deliberate act: a new teamkeys.dev/reactivate
 * value, or any change to the member's spec.
 */
function inactivity(v: MemberView): { status: TeamMemberStatus; step: IdleStep } {
  const s = v.status;
  const now = new Date(v.now).toISOString();
  const key = s.key;
  let activity = nextActivity(s.activity, key, key && v.keys.get(key.hash), now);
  const asked = v.member.metadata.annotations?.[ANNOTATION_REACTIVATE];
  const was = s.inactive;
  const annotated = reactivationAsked(asked, activity);
  const edited = was?.generation !== undefined && v.member.metadata.generation !== was.generation;
  if (annotated || edited) {
    activity = { lastSpendAt: now, keyHash: activity?.keyHash ?? key?.hash ?? '', lifetimeUSD: activity?.lifetimeUSD ?? 0, ...(asked ? { reactivation: asked } : {}) };
    const by = annotated ? `${ANNOTATION_REACTIVATE}=${asked ?? ''}` : 'the spec changed';
    return { status: { ...s, activity, inactive: undefined }, step: was ? { kind: 'reactivated', by, keyDeleted: was.keyDeleted } : { kind: 'none' } };
  }
  const state = idleState(v.policy?.inactivity, activity, v.now);
  // (leaving inactivity because the policy dropped or lengthened it is a deliberate change too)
  if (state === 'active') return { status: { ...s, activity, inactive: undefined }, step: { kind: 'none' } };
  const gen = v.member.metadata.generation;
  const inactive = { since: was?.since ?? now, keyDeleted: was?.keyDeleted ?? false, ...(gen === undefined ? {} : { generation: was?.generation ?? gen }) };
  if (state === 'delete' && key) {
    return { status: { ...s, activity, inactive: { ...inactive, keyDeleted: true } }, step: { kind: 'deleteKey', key } };
  }
  return { status: { ...s, activity, inactive }, step: { kind: 'none' } };
}

/** After a crash: the key the Secret holds (if it is one of the in-flight create's keys) is kept; the rest go. */
function recovery(v: MemberView, s: TeamMemberStatus): { status: TeamMemberStatus; revoke: string[]; adopted: PendingRotation | undefined } {
  const pending = s.pendingKey;
  // a first key's intent is implied by its name (plan.ts nextKeyName): only the keys found under it tell of a crash
  if (!pending && !(impliedIntent(s) && v.candidates.length > 0)) return { status: s, revoke: [], adopted: undefined };
  const own = v.secret.kind === 'own' ? v.secret : undefined;
  // strict here: only the HMAC proves which of several same-named keys reached the Secret
  const { adopt, revoke } = recoverPending(v.candidates, own?.keyHash, own?.hmacOk ?? false);
  if (!adopt) return { status: undone(s), revoke, adopted: undefined };
  const rotation = pending?.rotation;
  // when it was asked for, on the operator's clock: the intent's instant, or the one its Secret was written with
  const since = pending?.since ?? own?.obj.annotations[ANNOTATION_ISSUED_AT];
  const seq = pending ? s.keySeq : (s.keySeq ?? 0) + 1;
  return { status: { ...s, pendingKey: undefined, keySeq: seq, key: keyRef(adopt, s.key, since), rotation: issued(v.member, s, rotation, v.now) }, revoke, adopted: rotation };
}

function planInput(v: MemberView, policy: ResolvedPolicy, s: TeamMemberStatus, wantKey: boolean) {
  const key = s.key;
  const own = v.secret.kind === 'own' ? v.secret : undefined;
  const created = key ? Date.parse(key.issuedAt ?? key.createdAt) : v.now;
  const observed = key ? observedKey(v, key.hash) : undefined;
  return {
    status: s,
    wantKey,
    observed,
    listedSinceKeyCreated: v.listedFrom !== undefined && v.listedFrom > created,
    secret: own ? { keyHash: own.keyHash, intact: intact(own, key) } : undefined,
    outlivesAllowance: key ? keyOutlivesAllowance(key, v.member.spec, policy) : false,
    wantEnabled: wantKey && !v.member.spec.suspended && !s.inactive,
    onDisabledOutside: policy.onDisabledOutside,
    now: v.now,
  };
}

/** A key as OpenRouter last showed it: one status names, or one of an interrupted create's. */
function observedKey(v: MemberView, hash: string): Key | undefined {
  return v.keys.get(hash) ?? v.candidates.find((k) => k.hash === hash);
}

/**
 * Whether the Secret still holds the key it says. The HMAC decides; if it fails only because the HMAC key itself
 * was lost (a reinstall), a matching hash annotation and key preview are enough, and the next Secret convergence
 * re-stamps the HMAC instead of every member getting a new key.
 */
function intact(own: Extract<MemberView['secret'], { kind: 'own' }>, key: KeyRef | undefined): boolean {
  if (own.apiKey === undefined) return false;
  if (own.hmacOk) return true;
  return key !== undefined && own.keyHash === key.hash && previewMatches(key.label, own.apiKey);
}

// --- the gate chain -----------------------------------------------------------------------------------------

/**
 * Pure: what a member may have, as one first-match chain (deleted > suspended > expired > policy missing or not
 * allowed > limit invalid > inactive > served). Whatever else is wrong, a member that should have no usable key
 * gets none: the checks that protect (offboarding, suspension, expiry) are never shadowed by the ones that only
 * report (a limit above the policy's maximum keeps the key as it is).
 */
export interface StandingInput {
  deleting: boolean;
  suspended: boolean;
  /** spec.expiresAt, if set (the member's hard end, on the operator's clock) */
  expiresAt: string | undefined;
  now: number;
  /** the policy as this operator sees it */
  policy: { name: string; found: boolean; allowsNamespace: boolean };
  namespace: string;
  /** the member's budget under its policy (undefined when there is no policy to judge it by) */
  budget: BudgetDecision | undefined;
  /** the key is off for inactivity (policy spec.inactivity) */
  inactive: boolean;
}

export type Standing =
  | { kind: 'deleted' }
  /** no usable key: the key is disabled (and a previous one too), nothing is created or rotated */
  | { kind: 'off'; reason: 'Suspended' | 'Expired' | 'PolicyNotFound' | 'PolicyNotAllowed' | 'Inactive'; message: string }
  /** the key stays exactly as it is (no create, no rotation, no change of limit) until the spec is fixed */
  | { kind: 'frozen'; reason: 'LimitAboveMax'; message: string }
  | { kind: 'served' };

export function expiredAt(expiresAt: string | undefined, now: number): boolean {
  return expiresAt !== undefined && Date.parse(expiresAt) <= now;
}

export function standing(i: StandingInput): Standing {
  if (i.deleting) return { kind: 'deleted' };
  if (i.suspended) return { kind: 'off', reason: 'Suspended', message: 'spec.suspended is true: the key is disabled' };
  if (expiredAt(i.expiresAt, i.now)) return { kind: 'off', reason: 'Expired', message: `the member's expiresAt ${i.expiresAt ?? ''} has passed` };
  if (!i.policy.found) return { kind: 'off', reason: 'PolicyNotFound', message: `spec.policy: KeyPolicy "${i.policy.name}" does not exist` };
  if (!i.policy.allowsNamespace) return { kind: 'off', reason: 'PolicyNotAllowed', message: `spec.policy: KeyPolicy "${i.policy.name}" does not allow namespace "${i.namespace}" (see its spec.namespaceSelector)` };
  if (i.budget && !i.budget.ok) return { kind: 'frozen', reason: i.budget.reason, message: i.budget.message };
  if (i.inactive) return { kind: 'off', reason: 'Inactive', message: 'the key is off for inactivity' };
  return { kind: 'served' };
}

// --- how fast a key is replaced on the operator's own ----------------------------------------------------

/**
 * Pure: how fast the operator may replace a member's key on its own (a key deleted, disabled outside, run out, or
 * no longer in its Secret). Each replacement is a new key, a Secret write and a workload restart: whatever goes
 * wrong (a clock that disagrees, an admin disabling every new key, a Secret deleted by a loop), the rate stays
 * bounded. The first two replacements in a day are immediate; each one after waits for the key to have lived
 * twice as long as the one before (30 s, 1 min, 2 min, ...), up to an hour: a loop makes about 30 keys a day. Rotations people ask for are not throttled: they are bounded by
 * the requests themselves.
 */
const HOUR_MS = 3_600_000;
const MEMORY_MS = 24 * HOUR_MS;
/** Replacements in the last day that go through at once. */
const FREE = 2;
const FIRST_WAIT_MS = 30_000;

/** The earliest instant the current key (issued at `issuedAt`, the operator's clock) may be replaced. */
export function replaceNotBefore(retired: readonly RetiredKey[] | undefined, issuedAt: string | undefined, now: number): number {
  const recent = (retired ?? []).filter((r) => {
    const at = Date.parse(r.retiredAt);
    return at <= now && now - at < MEMORY_MS;
  }).length;
  if (recent < FREE || issuedAt === undefined) return now;
  return Date.parse(issuedAt) + Math.min(HOUR_MS, FIRST_WAIT_MS * 2 ** (recent - FREE));
}

// --- inactivity ----------------------------------------------------------------------------------------------

/*
 * No key left idle. Spend activity is read from the key list the operator makes anyway (lifetime spend
 * moving), so tracking it costs no call; a key idle past the policy's inactivity.disableAfter is disabled, past
 * deleteAfter deleted, and comes back only on a deliberate act (the teamkeys.dev/reactivate annotation).
 */

type Inactivity = NonNullable<ResolvedPolicy['inactivity']>;

export type Activity = NonNullable<TeamMemberStatus['activity']>;
export type Idle = 'active' | 'disable' | 'delete';

/** Lifetime spend of a key, BYOK included: it only ever grows, so any growth is activity. */
function lifetime(k: Key): number {
  return k.usage.total + k.byok.total;
}

/**
 * The activity record after looking at the active key. A new key (issued or rotated) is not activity by itself:
 * it keeps the last spend time, except the first key, which counts from its creation.
 */
export function nextActivity(prev: Activity | undefined, key: { hash: string; createdAt: string; issuedAt?: string | undefined } | undefined, observed: Key | undefined, now: string): Activity | undefined {
  if (!key || !observed || observed.hash !== key.hash) return prev;
  const total = lifetime(observed);
  // counted on the operator's clock: OpenRouter's createdAt only for a key issued before issuedAt was recorded
  if (!prev) return { lastSpendAt: key.issuedAt ?? key.createdAt, keyHash: key.hash, lifetimeUSD: total };
  if (prev.keyHash !== key.hash) return { ...prev, keyHash: key.hash, lifetimeUSD: total, ...(total > 0 ? { lastSpendAt: now } : {}) };
  // a hundredth of a cent: OpenRouter's rounding is not spend
  return total > prev.lifetimeUSD + 1e-4 ? { ...prev, lastSpendAt: now, lifetimeUSD: total } : prev;
}

/** What inactivity asks for now. */
export function idleState(policy: Inactivity | undefined, activity: Activity | undefined, now: number): Idle {
  if (!policy || !activity) return 'active';
  const idleMs = now - Date.parse(activity.lastSpendAt);
  if (policy.deleteAfterMs !== undefined && idleMs >= policy.deleteAfterMs) return 'delete';
  return idleMs >= policy.disableAfterMs ? 'disable' : 'active';
}

/** When the next inactivity step is due (undefined: none). */
export function nextIdleStep(policy: Inactivity | undefined, activity: Activity | undefined, state: Idle): number | undefined {
  if (!policy || !activity || state === 'delete') return undefined;
  const since = Date.parse(activity.lastSpendAt);
  if (state === 'active') return since + policy.disableAfterMs;
  return policy.deleteAfterMs === undefined ? undefined : since + policy.deleteAfterMs;
}

/** A new value of the reactivate annotation that has not been acted on. */
export function reactivationAsked(annotation: string | undefined, activity: Activity | undefined): boolean {
  return annotation !== undefined && annotation !== '' && annotation !== activity?.reactivation;
}
