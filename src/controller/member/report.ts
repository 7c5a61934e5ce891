/**
 * Report: the status the pass ends with, computed once (status.ts) and written once, the Events its change calls
 * for, and when to look again without an event.
 */
import type { ResolvedPolicy } from '../../api/policy.ts';
import { ANNOTATION_REACTIVATE, type TeamMember, type TeamMemberStatus } from '../../api/schema.ts';
import { nextReset } from '../../util/windows.ts';
import type { ConditionInput } from '../conditions.ts';
import { pausedBy, pausedCondition } from '../pause.ts';
import { analyticsView, keptAnalytics } from './analytics.ts';
import { idleState, nextActivity, nextIdleStep, standingOf, type Decision } from './decide.ts';
import { windowSpend } from './budget.ts';
import type { Result } from './deps.ts';
import type { Acted } from './act.ts';
import type { Pass } from './pass.ts';
import { nextPreviousKeyStep, nextRotation, rotating } from './rotation.ts';
import { computeStatus, type Outcome } from './status.ts';

/** How long a scheduled rotation waits for a free slot before it asks again. */
const SLOT_WAIT_MS = 60_000;

/** Writes the status the outcome deserves, and the Events its change calls for. */
export async function report(p: Pass, dec: Decision, a: Acted): Promise<TeamMemberStatus> {
  const { d, v, policy } = p;
  const budget = a.blocked ? undefined : p.budget;
  const out = a.blocked ?? (dec.kind === 'served' ? servedOutcome(p, dec, a.status) : undefined);
  if (!out) throw new Error(`member ${v.id}: a blocked pass without its reason`);
  const member = p.journal.member;
  const prevReady = member.status?.conditions?.find((x) => x.type === 'Ready');
  const next = v.policy ? nextRotation({ status: a.status, spec: member.spec, uid: member.metadata.uid }, v.policy)?.at : undefined;
  const usage = budget ? v.usage : undefined;
  const now = new Date(v.now).toISOString();
  // a key issued in this pass starts its activity record in this same write, not in the next pass's
  const prev = { ...a.status, activity: nextActivity(a.status.activity, a.status.key, a.observed, now) };
  const { status, notes } = computeStatus({
    member,
    prev,
    now,
    secretName: v.secretName,
    key: prev.key,
    pendingKey: prev.pendingKey,
    keySeq: prev.keySeq,
    observed: a.observed,
    budget,
    carried: a.carried,
    warnAtPercent: policy.warnAtPercent,
    outcome: out,
    suspended: member.spec.suspended,
    expired: out.reason === 'Expired',
    nextRotationAt: next === undefined ? undefined : new Date(next).toISOString(),
    inactivity: inactivityCondition(p, prev),
    paused: pausedOf(member, v.policy),
    analytics: usage && budget ? { ...analyticsView(usage.rows, budget.reset, v.now, budget.includeByok, keptAnalytics(member.status, budget)), at: usage.at } : undefined,
    drainingUSD: budget ? (prev.previousKeys ?? []).filter((x) => x.state === 'Draining').reduce((sum, x) => {
      const k = d.book.get(x.hash);
      return sum + (k && x.window === a.carried.window ? windowSpend(k, budget.reset, budget.includeByok) : 0);
    }, 0) : undefined,
  });
  const written = await p.journal.save(status);
  for (const n of notes) await (n.type === 'Warning' ? d.events.warn(member, n.reason, n.message) : d.events.normal(member, n.reason, n.message));
  const nowReady = status.conditions?.find((x) => x.type === 'Ready');
  if (nowReady && (prevReady?.status !== nowReady.status || prevReady.reason !== nowReady.reason) && nowReady.status === 'False' && !['Suspended', 'Expired'].includes(nowReady.reason)) {
    await d.events.warn(member, out.reason, nowReady.message);
  }
  return written;
}

/** The Ready outcome of a served member, from the status the pass ends with. */
function servedOutcome(p: Pass, dec: Extract<Decision, { kind: 'served' }>, status: TeamMemberStatus): Outcome {
  const { v } = p;
  const s = standingOf(v, status);
  if (s.kind === 'off') return { ready: false, reason: s.reason, message: s.reason === 'Inactive' ? inactiveMessage(p, status) : s.message };
  if (s.kind === 'frozen') return { ready: false, reason: s.reason, message: s.message };
  const k = dec.key;
  if (k.kind === 'throttled') {
    return { ready: false, reason: 'ReplacementThrottled', message: `the key needs replacing (${k.plan.reason}), but it was replaced too often lately: the next replacement is due at ${new Date(k.until).toISOString()}` };
  }
  const label = status.key?.label ?? '';
  if (k.kind === 'hold') {
    return { ready: false, reason: 'DisabledOutside', message: `key ${label} was disabled outside teamkeys (treated as leaked) and the policy respects that (onDisabledOutside: Respect): re-enable it at OpenRouter, or delete Secret ${v.secretName} to get a new key` };
  }
  return { ready: true, reason: 'KeyReady', message: `key ${label} is active and in Secret ${v.secretName}` };
}

/** The Ready message of an inactive member. */
function inactiveMessage(p: Pass, status: TeamMemberStatus): string {
  const what = status.inactive?.keyDeleted ? 'the key is deleted' : 'the key is disabled';
  return `no spend since ${status.activity?.lastSpendAt ?? ''} (policy inactivity.disableAfter ${p.policy.inactivity?.disableAfter ?? ''}): ${what}; kubectl annotate tm ${p.v.member.metadata.name} ${ANNOTATION_REACTIVATE}=<new value> brings it back`;
}

function inactivityCondition(p: Pass, status: TeamMemberStatus): ConditionInput | undefined {
  const idle = p.v.policy?.inactivity;
  const inactive = status.inactive;
  if (inactive) return { type: 'Inactive', status: 'True', reason: inactive.keyDeleted ? 'KeyDeleted' : 'KeyDisabled', message: `no spend since ${status.activity?.lastSpendAt ?? inactive.since}; annotate ${ANNOTATION_REACTIVATE}=<new value> to bring the key back` };
  if (!idle) return undefined;
  return { type: 'Inactive', status: 'False', reason: 'Active', message: `the key is disabled after ${idle.disableAfter} without spend${idle.deleteAfter ? ` and deleted after ${idle.deleteAfter}` : ''}` };
}

/** When to look again without an event: the window reset (a reduced limit goes back up) and either expiry. */
export function requeue(p: Pass, dec: Decision, a: Acted): Result {
  const { v } = p;
  if (dec.kind !== 'served') return {};
  const expired = dec.expired;
  const throttledUntil = dec.key.kind === 'throttled' ? dec.key.until : undefined;
  const now = v.now;
  const s = a.status;
  const spec = v.member.spec;
  const ends: number[] = [];
  const reset = s.budget?.reset;
  if (a.carried.usd > 0 && reset && reset !== 'never') ends.push(nextReset(reset, now) - now + 1_000);
  if (!expired && spec.expiresAt) ends.push(Date.parse(spec.expiresAt) - now + 1_000);
  const keyEnd = s.key?.expiresAt;
  if (!expired && keyEnd) ends.push(Date.parse(keyEnd) - now + 1_000);
  // rotation: the next scheduled one, a previous key to retire or delete, and a window boundary while one drains
  const scheduled = v.policy ? nextRotation({ status: s, spec, uid: v.member.metadata.uid }, v.policy)?.at : undefined;
  // due but not started: all --max-concurrent-rotations slots were taken; look again later, not every second
  if (scheduled !== undefined && !spec.suspended && !expired && !s.inactive) ends.push(scheduled > now ? scheduled - now + 1_000 : SLOT_WAIT_MS);
  const idle = v.policy?.inactivity;
  const idleStep = nextIdleStep(idle, s.activity, idleState(idle, s.activity, now));
  if (idleStep !== undefined && !expired) ends.push(Math.max(0, idleStep - now) + 1_000);
  const step = nextPreviousKeyStep(s.previousKeys);
  if (step !== undefined) ends.push(step - now + 1_000);
  if (rotating(s) && reset && reset !== 'never') ends.push(nextReset(reset, now) - now + 1_000);
  // a member without a key still shows spend: it goes to zero when its window turns (status.ts rolled)
  const u = s.usage;
  if (!s.key && u && u.dailyUSD + u.weeklyUSD + u.monthlyUSD + u.windowUSD > 0) ends.push(nextReset('daily', now) - now + 1_000);
  // a replacement that waits is looked at again when it is due
  if (throttledUntil !== undefined) ends.push(throttledUntil - now + 1_000);
  // a move to the policy's new workspace that found every rotation slot taken asks again
  if (dec.key.kind === 'rotate' && dec.key.ask.trigger === 'WorkspaceMoved' && s.key?.hash === v.status.key?.hash) ends.push(SLOT_WAIT_MS);
  return ends.length > 0 ? { requeueAfterMs: Math.max(1_000, Math.min(...ends)) } : {};
}

/** The Paused condition of a member whose pass runs while paused (a suspension goes through). */
function pausedOf(member: TeamMember, policy: ResolvedPolicy | undefined): ConditionInput | undefined {
  const by = pausedBy(member, policy?.object);
  return by ? pausedCondition(by, member.spec.policy) : undefined;
}
