/**
 * Invariant 11: every status the operator writes is valid against its own CRD. The helper (test/crdschema.ts)
 * checks a status as the API server would, from the generated CRD YAML; here it is first shown to refuse what the
 * API server refuses, then run over the pure status builders at every bound of every list.
 */
import { describe, expect, it } from 'vitest';
import { CONDITIONS_MAX, POLICY_MODELS_MAX, RETIRED_KEYS_MAX, PREVIOUS_KEYS_MAX, SLUG_LIST_MAX, TOP_MODELS_MAX, USAGE_DAYS_MAX, type KeyPolicySpec, type KeyPolicyStatus, type KeyRef, type PreviousKey, type TeamMember, type TeamMemberStatus } from '../../src/api/schema.ts';
import { setCondition } from '../../src/controller/conditions.ts';
import { keyName } from '../../src/controller/keyname.ts';
import { analyticsView } from '../../src/controller/member/analytics.ts';
import { withPrevious } from '../../src/controller/member/rotation.ts';
import { computeStatus, type StatusInput } from '../../src/controller/member/status.ts';
import { inUseMessage, policyStatus } from '../../src/controller/policy/reconcile.ts';
import { desiredRules, guardrailName, modelsShown, reportedRules, rulesFingerprint } from '../../src/controller/policy/rules.ts';
import type { Key } from '../../src/domain/key.ts';
import type { UsageRow } from '../../src/domain/usage.ts';
import { statusErrors } from '../crdschema.ts';
import { aKey } from './keys.ts';

// a fake clock: the last day of a 31-day month, so the days kept and the monthly window both hold 31 days
const NOW = Date.parse('2026-03-31T12:00:00Z');
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const at = (ms: number) => new Date(ms).toISOString();

/** The CRD's bounds, read back from the messages below, must be the ones the code uses. */
const INACTIVE_NAMED_MAX = 20;
const MESSAGE_MAX = 32768;

type RetiredKey = NonNullable<NonNullable<TeamMemberStatus['budget']>['retiredKeys']>[number];

const spend = (usd: number) => ({ daily: usd, weekly: usd, monthly: usd, total: usd });
const member = (name = 'alice', spec: Partial<TeamMember['spec']> = {}, status?: TeamMemberStatus): TeamMember => ({
  apiVersion: 'teamkeys.dev/v1alpha1', kind: 'TeamMember',
  metadata: { name, namespace: 'ml-team', uid: `uid-${name}`, generation: 4 },
  spec: { policy: 'pro', suspended: false, ...spec },
  ...(status ? { status } : {}),
});
const nameOf = (seq: number) => keyName({ cluster: 'c1', namespace: 'ml-team', member: 'alice', uid: 'uid-alice', seq });
const observed = (seq: number, usd: number, over: Partial<Key> = {}): Key => aKey(`hash-${seq}`, {
  name: nameOf(seq), label: `sk-or-v1-${seq}a1...e09`, limitUSD: 50, limitRemainingUSD: Math.max(0, 50 - usd), usage: spend(usd),
  createdAt: at(NOW - 10 * DAY), expiresAt: at(NOW + 80 * DAY), ...over,
});
const keyRef = (k: Key): KeyRef => ({
  hash: k.hash, name: k.name, label: k.label, createdAt: k.createdAt, ...(k.expiresAt ? { expiresAt: k.expiresAt } : {}),
  disabled: k.disabled, limitUSD: k.limitUSD, reset: k.reset, includeByok: k.includeByok,
});
const previous = (seq: number, state: PreviousKey['state']): PreviousKey => ({
  hash: `hash-${seq}`, name: nameOf(seq), label: `sk-or-v1-${seq}a1...e09`, state, rotatedAt: at(NOW - (20 - seq) * HOUR),
  retireAt: at(NOW - (20 - seq) * HOUR + HOUR), ...(state === 'Disabled' ? { deleteAt: at(NOW + HOUR) } : {}),
  window: at(Date.parse('2026-03-01T00:00:00Z')), spentUSD: 1.25, allowanceUSD: 2.5,
});
const retired = (i: number): RetiredKey => ({ hash: `retired-${i}`, retiredAt: at(NOW - i * HOUR), usage: spend(0.5), byok: spend(0) });
const row = (day: number, model: string, usd: number, requests: number): UsageRow => ({ key: nameOf(1), model, date: at(NOW - day * DAY).slice(0, 10), usd, byokUsd: 0, requests });

/** Analytics at both bounds: more models than kept and more days than kept, every day with requests. */
function busyAnalytics(reset: 'daily' | 'weekly' | 'monthly' | 'never' = 'monthly') {
  const models = Array.from({ length: TOP_MODELS_MAX + 3 }, (_, i) => `vendor-${i}/model-${'x'.repeat(150)}-${i}`);
  const rows = Array.from({ length: USAGE_DAYS_MAX + 9 }, (_, day) => models.map((m, i) => row(day, m, 0.013 * (i + 1), i + 1))).flat();
  return { ...analyticsView(rows, reset, NOW), at: at(NOW - 5 * 60_000) };
}

const base = (over: Partial<StatusInput> = {}): StatusInput => {
  const k = observed(1, 3.5);
  return {
    member: member(), prev: {}, now: at(NOW), secretName: 'alice-openrouter', key: keyRef(k), pendingKey: undefined, keySeq: 1,
    observed: k, budget: { limitUSD: 50, reset: 'monthly', includeByok: false }, carried: undefined, warnAtPercent: 80,
    outcome: { ready: true, reason: 'KeyReady', message: `key ${k.label} is active and in Secret alice-openrouter` },
    suspended: false, expired: false, nextRotationAt: at(NOW + 80 * DAY), ...over,
  };
};

/** The worst a member's status gets: every list at its bound, every condition type, the longest message. */
function worstMemberInput(): StatusInput {
  let prevKeys: PreviousKey[] = [];
  // more rotations than status keeps, through the function every writer uses
  for (let seq = 1; seq <= PREVIOUS_KEYS_MAX + 4; seq++) prevKeys = withPrevious(prevKeys, previous(seq, seq % 3 === 0 ? 'Deleted' : seq % 3 === 1 ? 'Disabled' : 'Draining'), PREVIOUS_KEYS_MAX);
  const active = observed(20, 55, { limitRemainingUSD: 0 });
  const prev = computeStatus(base({ key: keyRef(active), observed: active })).status;
  return base({
    prev: {
      ...prev,
      previousKeys: prevKeys,
      budget: { limitUSD: 50, remainingUSD: 0, reset: 'monthly', retiredKeys: Array.from({ length: RETIRED_KEYS_MAX }, (_, i) => retired(i)) },
      rotation: { count: 19, lastRotatedAt: at(NOW - HOUR), lastTrigger: 'Compromised', lastRequest: '1774958400' },
      activity: { lastSpendAt: at(NOW - HOUR), keyHash: active.hash, lifetimeUSD: 55, reactivation: '1' },
      inactive: { since: at(NOW - HOUR), keyDeleted: false, generation: 4 },
    },
    key: keyRef(active), observed: active, keySeq: 21,
    pendingKey: { name: nameOf(21), since: at(NOW), guardrail: 'gr-5b1f0c2e', rotation: { trigger: 'Compromised', from: active.hash } },
    carried: { usd: 32, window: at(Date.parse('2026-03-01T00:00:00Z')) }, drainingUSD: 2.5,
    outcome: { ready: false, reason: 'SecretRejected', message: `the API server refused Secret ml-team/alice-openrouter: ${'admission webhook "policy.example.com" denied the request: '.repeat(800)}` },
    suspended: true, expired: true, member: member('alice', { suspended: true, expiresAt: at(NOW - DAY) }),
    inactivity: { type: 'Inactive', status: 'True', reason: 'KeyDisabled', message: `no spend since ${at(NOW - 31 * DAY)}; annotate teamkeys.dev/reactivate=<new value> to bring the key back` },
    analytics: busyAnalytics(),
  });
}

describe('statusErrors refuses what the API server refuses', () => {
  const worst = computeStatus(worstMemberInput()).status;
  const retiredKeys = worst.budget?.retiredKeys ?? [];
  const policyOk: KeyPolicyStatus = { members: 1, readyMembers: 1, spendThisWindowUSD: 1, inactivity: { disabled: 1, deleted: 0, members: ['ml-team/alice'] }, spendByModel: [{ model: 'openai/gpt-4o-mini', usd: 1, requests: 2 }] };

  it('accepts the valid statuses the refusals below are made from', () => {
    expect(statusErrors('TeamMember', {})).toEqual([]);
    expect(statusErrors('TeamMember', worst)).toEqual([]);
    expect(statusErrors('KeyPolicy', policyOk)).toEqual([]);
  });

  const altered = (patch: (s: TeamMemberStatus) => unknown) => patch(structuredClone(worst));
  it.each<[string, 'TeamMember' | 'KeyPolicy', unknown, string]>([
    [`${RETIRED_KEYS_MAX + 1} retired keys`, 'TeamMember', altered((s) => ({ ...s, budget: { ...s.budget, retiredKeys: [...retiredKeys, retired(99)] } })), `status.budget.retiredKeys: must NOT have more than ${RETIRED_KEYS_MAX} items (got ${RETIRED_KEYS_MAX + 1} items)`],
    ['a condition status outside its enum', 'TeamMember', altered((s) => ({ ...s, conditions: [{ type: 'Ready', status: 'Maybe', reason: 'x', message: 'x', lastTransitionTime: at(NOW) }] })), 'status.conditions[0].status: "Maybe" is not one of ["True","False","Unknown"]'],
    ['a reset period outside its enum', 'TeamMember', altered((s) => ({ ...s, budget: { ...s.budget, reset: 'yearly' } })), 'status.budget.reset: "yearly" is not one of'],
    ['a previous key state outside its enum', 'TeamMember', altered((s) => ({ ...s, previousKeys: [{ ...s.previousKeys?.[0], state: 'Retired' }] })), 'status.previousKeys[0].state: "Retired" is not one of'],
    ['a condition message over 32768 characters', 'TeamMember', altered((s) => ({ ...s, conditions: [{ type: 'Ready', status: 'False', reason: 'x', message: 'm'.repeat(MESSAGE_MAX + 1), lastTransitionTime: at(NOW) }] })), `status.conditions[0].message: must NOT have more than ${MESSAGE_MAX} characters`],
    [`${PREVIOUS_KEYS_MAX + 1} previous keys`, 'TeamMember', altered((s) => ({ ...s, previousKeys: [...(s.previousKeys ?? []), previous(30, 'Deleted')] })), `status.previousKeys: must NOT have more than ${PREVIOUS_KEYS_MAX} items`],
    [`${TOP_MODELS_MAX + 1} top models`, 'TeamMember', altered((s) => ({ ...s, usage: { ...s.usage, models: [...(s.usage?.models ?? []), { model: 'a/b', usd: 0, requests: 0 }] } })), `status.usage.models: must NOT have more than ${TOP_MODELS_MAX} items`],
    [`${USAGE_DAYS_MAX + 1} days`, 'TeamMember', altered((s) => ({ ...s, usage: { ...s.usage, days: [...(s.usage?.days ?? []), { date: '2026-04-01', usd: 0, requests: 1 }] } })), `status.usage.days: must NOT have more than ${USAGE_DAYS_MAX} items`],
    ['a day not in YYYY-MM-DD', 'TeamMember', altered((s) => ({ ...s, usage: { ...s.usage, days: [{ date: '2026-3-1', usd: 0, requests: 1 }] } })), 'status.usage.days[0].date: must match pattern'],
    ['a model id over 200 characters', 'TeamMember', altered((s) => ({ ...s, usage: { ...s.usage, models: [{ model: `a/${'b'.repeat(199)}`, usd: 0, requests: 0 }] } })), 'status.usage.models[0].model: must NOT have more than 200 characters'],
    ['a fractional request count', 'TeamMember', altered((s) => ({ ...s, usage: { ...s.usage, requests: 1.5 } })), 'status.usage.requests: must be integer'],
    ['a negative key sequence', 'TeamMember', altered((s) => ({ ...s, keySeq: -1 })), 'status.keySeq: must be >= 0'],
    ['a key without its hash', 'TeamMember', altered((s) => ({ ...s, key: { ...s.key, hash: undefined } })), 'status.key.hash: required'],
    ['a field the CRD does not know (pruned)', 'TeamMember', altered((s) => ({ ...s, key: { ...s.key, apiKey: 'redacted' } })), 'status.key.apiKey: unknown field (the API server prunes it)'],
    ['a top-level field the CRD does not know', 'TeamMember', altered((s) => ({ ...s, lastError: 'x' })), 'status.lastError: unknown field'],
    ['null in a field that is not nullable', 'TeamMember', altered((s) => ({ ...s, secretName: null })), 'status.secretName: null in a field that is not nullable'],
    ['NaN spend', 'TeamMember', altered((s) => ({ ...s, usage: { ...s.usage, windowUSD: Number.NaN } })), 'status.usage.windowUSD: NaN is not a JSON number'],
    [`${POLICY_MODELS_MAX + 1} policy models`, 'KeyPolicy', { ...policyOk, spendByModel: Array.from({ length: POLICY_MODELS_MAX + 1 }, (_, i) => ({ model: `a/m${i}`, usd: 1, requests: 1 })) }, `status.spendByModel: must NOT have more than ${POLICY_MODELS_MAX} items`],
    [`${INACTIVE_NAMED_MAX + 1} inactive members named`, 'KeyPolicy', { ...policyOk, inactivity: { disabled: 21, deleted: 0, members: Array.from({ length: INACTIVE_NAMED_MAX + 1 }, (_, i) => `ml-team/m${i}`) } }, `status.inactivity.members: must NOT have more than ${INACTIVE_NAMED_MAX} items`],
    ['a drift description over 2000 characters', 'KeyPolicy', { ...policyOk, guardrail: { id: 'g', name: 'n', applied: 'f', zeroDataRetention: false, assignedKeys: 0, keys: 0, lastDrift: { at: at(NOW), what: 'w'.repeat(2001) } } }, 'status.guardrail.lastDrift.what: must NOT have more than 2000 characters'],
    ['a negative member count', 'KeyPolicy', { ...policyOk, members: -1 }, 'status.members: must be >= 0'],
    ['a policy field the CRD does not know', 'KeyPolicy', { ...policyOk, spendByModel: [{ model: 'a/b', usd: 1, requests: 1, share: 0.5 }] }, 'status.spendByModel[0].share: unknown field'],
  ])('%s', (_what, kind, status, error) => {
    const errors = statusErrors(kind, status);
    expect(errors.some((e) => e.startsWith(error)), `${error}\nnot in\n${errors.join('\n')}`).toBe(true);
  });

  it('is quick enough to run after every step of a model test (compiled once, not per call)', () => {
    const start = performance.now();
    for (let i = 0; i < 1000; i++) statusErrors('TeamMember', worst);
    // about 0.1 ms a call; compiling the schema alone takes about 100 ms
    expect(performance.now() - start).toBeLessThan(5000);
  });
});

describe('computeStatus writes only statuses the CRD admits', () => {
  const exhausted = observed(1, 52, { limitRemainingUSD: 0 });
  const disabled = observed(1, 3.5, { disabled: true });
  const rotatingKeys = [previous(5, 'Deleted'), previous(6, 'Disabled'), previous(7, 'Draining')];
  const cases: [string, StatusInput][] = [
    ['a fresh key', base({ observed: observed(1, 0), key: keyRef(observed(1, 0)) })],
    ['a first key in flight', base({ key: undefined, observed: undefined, keySeq: 1, pendingKey: { name: nameOf(1), since: at(NOW) }, outcome: { ready: false, reason: 'GuardrailPending', message: 'waiting for the policy guardrail before the key is created' } })],
    ['budget exhausted', base({ observed: exhausted, key: keyRef(exhausted), prev: computeStatus(base()).status })],
    ['suspended', base({ member: member('alice', { suspended: true }), suspended: true, observed: disabled, key: keyRef(disabled), outcome: { ready: false, reason: 'Suspended', message: 'spec.suspended is true: the key is disabled' } })],
    ['expired', base({ member: member('alice', { expiresAt: '2026-03-30T18:00:00+02:00' }), expired: true, observed: disabled, key: keyRef(disabled), outcome: { ready: false, reason: 'Expired', message: "the member's expiresAt 2026-03-30T18:00:00+02:00 has passed" } })],
    ['rotating, with previous keys draining and a rotation in flight', base({
      prev: { previousKeys: rotatingKeys, rotation: { count: 7, lastRotatedAt: at(NOW - HOUR), lastTrigger: 'Requested', lastRequest: '2' } },
      keySeq: 8, pendingKey: { name: nameOf(8), since: at(NOW), rotation: { trigger: 'Requested', request: '3', from: 'hash-1' } },
      carried: { usd: 4.75, window: at(Date.parse('2026-03-01T00:00:00Z')) }, drainingUSD: 1.25,
    })],
    ['analytics with the most models and days kept', base({ analytics: busyAnalytics() })],
    ['a lifetime budget without a cap', base({ budget: { limitUSD: undefined, reset: 'never', includeByok: true }, observed: observed(1, 3.5, { limitUSD: undefined, limitRemainingUSD: undefined, reset: 'never' }), analytics: busyAnalytics('never') })],
    ['inactive, key deleted', base({
      key: undefined, observed: undefined, prev: { inactive: { since: at(NOW - DAY), keyDeleted: true, generation: 4 }, activity: { lastSpendAt: at(NOW - 40 * DAY), keyHash: 'hash-1', lifetimeUSD: 12 } },
      inactivity: { type: 'Inactive', status: 'True', reason: 'KeyDeleted', message: 'no spend since then; annotate teamkeys.dev/reactivate=<new value> to bring the key back' },
      outcome: { ready: false, reason: 'Inactive', message: 'the key was deleted for inactivity' },
    })],
    ['an API server refusal quoted at length', base({ outcome: { ready: false, reason: 'SecretRejected', message: `the API server refused Secret ml-team/alice-openrouter: ${'x'.repeat(3 * MESSAGE_MAX)}` } })],
    ['every bound at once', worstMemberInput()],
  ];

  it.each(cases)('%s', (_what, input) => {
    const { status } = computeStatus(input);
    expect(statusErrors('TeamMember', status)).toEqual([]);
    // and again an hour later from its own output, as the next reconcile sees it
    const next = computeStatus({ ...input, prev: status, now: at(NOW + HOUR) }).status;
    expect(statusErrors('TeamMember', next)).toEqual([]);
  });

  it('reaches every bound in the worst case, so the case above proves something', () => {
    const s = computeStatus(worstMemberInput()).status;
    expect(s.conditions?.map((c) => c.type).toSorted()).toEqual(['BudgetExhausted', 'BudgetForecast', 'Expired', 'Inactive', 'Ready', 'Rotating', 'Suspended']);
    expect(s.previousKeys).toHaveLength(PREVIOUS_KEYS_MAX);
    expect(s.budget?.retiredKeys).toHaveLength(RETIRED_KEYS_MAX);
    expect(s.usage?.models).toHaveLength(TOP_MODELS_MAX);
    expect(s.usage?.days).toHaveLength(USAGE_DAYS_MAX);
    expect(s.conditions?.find((c) => c.type === 'Ready')?.message.length).toBe(MESSAGE_MAX);
  });

  it('stays valid through a month of rotations at the previous-keys bound and growing analytics', () => {
    let prev: TeamMemberStatus = {};
    let prevKeys: PreviousKey[] = [];
    const rows: UsageRow[] = [];
    for (let step = 0; step < 60; step++) {
      const now = Date.parse('2026-03-01T00:00:00Z') + step * 12 * HOUR;
      const seq = step + 1;
      if (step > 0) prevKeys = withPrevious(prevKeys, { ...previous(step, 'Draining'), rotatedAt: at(now), retireAt: at(now + HOUR) }, PREVIOUS_KEYS_MAX);
      rows.push(...Array.from({ length: 3 }, (_, i) => ({ key: nameOf(seq), model: `openai/model-${(step + i) % 9}`, date: at(now).slice(0, 10), usd: 0.25, byokUsd: 0, requests: 3 })));
      const k = observed(seq, 0.75 * (step % 4), { createdAt: at(now) });
      const { status } = computeStatus(base({
        now: at(now), prev: { ...prev, previousKeys: prevKeys, rotation: { count: step, lastRotatedAt: at(now), lastTrigger: 'Scheduled' } },
        key: keyRef(k), observed: k, keySeq: seq, nextRotationAt: at(now + 12 * HOUR),
        analytics: { ...analyticsView(rows, 'monthly', now), at: at(now) },
      }));
      expect(statusErrors('TeamMember', status), `step ${step}`).toEqual([]);
      prev = status;
    }
    expect(prev.previousKeys).toHaveLength(PREVIOUS_KEYS_MAX);
  });
});

describe('setCondition keeps every condition within the CRD', () => {
  it('cuts an over-long message, reason and type to their bounds, and stays stable', () => {
    const long = { type: `T${'t'.repeat(400)}`, status: 'False' as const, reason: `R${'r'.repeat(2000)}`, message: `quoted: ${'é😀'.repeat(MESSAGE_MAX)}` };
    const once = setCondition([], long, 1, at(NOW));
    expect(statusErrors('TeamMember', { conditions: once })).toEqual([]);
    expect(once[0]?.message.endsWith('…')).toBe(true);
    // at the bound, or one short where the cut would have split a surrogate pair: never half of one
    expect(once[0]?.message.length).toBeGreaterThanOrEqual(MESSAGE_MAX - 1);
    expect(once[0]?.message.length).toBeLessThanOrEqual(MESSAGE_MAX);
    expect(once[0]?.message).toBe(once[0]?.message.toWellFormed());
    // the same long input again replaces the condition, not adds one, and changes nothing
    expect(setCondition(once, long, 1, at(NOW + HOUR))).toEqual(once);
  });

  it('leaves a message within its bound as it is', () => {
    const c = { type: 'Ready', status: 'True' as const, reason: 'KeyReady', message: 'm'.repeat(MESSAGE_MAX) };
    expect(setCondition([], c, 1, at(NOW))[0]?.message).toBe(c.message);
  });

  it('keeps at most CONDITIONS_MAX conditions: the one changed longest ago goes, never the one just set', () => {
    let list = setCondition([], { type: 'Ready', status: 'True', reason: 'KeyReady', message: '' }, 1, at(NOW));
    // types left behind by other versions, each changed later than the last
    for (let i = 0; i < CONDITIONS_MAX + 4; i++) list = setCondition(list, { type: `Other${i}`, status: 'True', reason: 'R', message: '' }, 1, at(NOW + (i + 1) * HOUR));
    expect(list).toHaveLength(CONDITIONS_MAX);
    expect(list.map((c) => c.type)).toContain(`Other${CONDITIONS_MAX + 3}`);
    expect(list.map((c) => c.type)).not.toContain('Ready');
    expect(statusErrors('TeamMember', { conditions: list })).toEqual([]);
    // setting the oldest one again brings it back and drops the next oldest
    const again = setCondition(list, { type: 'Ready', status: 'False', reason: 'Suspended', message: '' }, 1, at(NOW + 30 * HOUR));
    expect(again).toHaveLength(CONDITIONS_MAX);
    expect(again.find((c) => c.type === 'Ready')?.reason).toBe('Suspended');
  });
});

describe('policyStatus writes only statuses the CRD admits', () => {
  const withModels = (name: string, i: number, inactive: boolean): TeamMember => {
    const k = observed(1, 1 + i);
    const s = computeStatus(base({
      member: member(name), key: keyRef(k), observed: k,
      // five models each, most of them no other member uses: far more models than the policy keeps
      analytics: { ...analyticsView(Array.from({ length: TOP_MODELS_MAX }, (_, j) => row(0, `vendor-${(i + j) % 40}/${'m'.repeat(190)}`, 0.1 * (j + 1), j + 1)), 'monthly', NOW), at: at(NOW) },
    })).status;
    return member(name, {}, inactive ? { ...s, inactive: { since: at(NOW - DAY), keyDeleted: i % 2 === 0 } } : s);
  };
  const many = Array.from({ length: 60 }, (_, i) => withModels(`member-${String(i).padStart(2, '0')}-${'n'.repeat(40)}`, i, i % 2 === 0));
  const slugs = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i}/${'m'.repeat(180)}`);
  const spec: KeyPolicySpec = {
    deletionPolicy: 'Delete', onDisabledOutside: 'Replace', zeroDataRetention: true,
    models: { allow: slugs('allow', SLUG_LIST_MAX), deny: slugs('deny', SLUG_LIST_MAX) },
    providers: { allow: Array.from({ length: SLUG_LIST_MAX }, (_, i) => `provider-${i}`), deny: ['deepinfra'] },
  };
  /** What reconcilePolicy adds to policyStatus: the guardrail as OpenRouter reports it, and its condition. */
  const withGuardrail = (s: KeyPolicyStatus): KeyPolicyStatus => {
    const rules = desiredRules(spec);
    if (!rules) throw new Error('the spec restricts');
    const g = { id: '8f14e45f-ceea-467f-a0e6-1f2a3b4c5d6e', name: guardrailName('c1', 'pro'), workspaceId: undefined, ...rules };
    const what = [`guardrail ${g.id} was edited outside teamkeys; restored it to the policy`, `59 member key(s) were not assigned to guardrail ${g.id} (unassigned or reassigned outside teamkeys); assigned them again`].join('; ');
    const condition = { type: 'GuardrailSynced', status: 'True' as const, reason: 'Synced', message: `guardrail ${g.id} enforces the policy on 60 of 60 member keys; last drift corrected at ${at(NOW)}: ${what}` };
    return {
      ...s, conditions: setCondition(s.conditions, condition, 7, at(NOW)), models: modelsShown(spec),
      guardrail: { id: g.id, name: g.name, applied: rulesFingerprint(rules), ...reportedRules(g), assignedKeys: 60, keys: 60, lastDrift: { at: at(NOW), what } },
    };
  };

  it.each<[string, () => KeyPolicyStatus]>([
    ['no members', () => policyStatus('pro', 1, {}, undefined, [], undefined, at(NOW))],
    ['members on several policies', () => policyStatus('pro', 2, {}, undefined, [withModels('a', 1, false), { ...withModels('b', 2, false), spec: { policy: 'free', suspended: false } }], undefined, at(NOW))],
    ['an invalid spec with a long parser message', () => policyStatus('pro', 3, {}, `spec.models.allow.0: ${'must be a slug; '.repeat(4000)}`, many, undefined, at(NOW))],
    ['a deletion held by many members', () => policyStatus('pro', 4, {}, undefined, many, { users: many.map((m) => `ml-team/${m.metadata.name}`) }, at(NOW))],
    ['every bound at once, with the guardrail at its worst', () => withGuardrail(policyStatus('pro', 7, withGuardrail({}), undefined, many, undefined, at(NOW)))],
  ])('%s', (_what, build) => {
    const s = build();
    expect(statusErrors('KeyPolicy', s)).toEqual([]);
  });

  it('reaches every bound in the worst case', () => {
    const s = withGuardrail(policyStatus('pro', 7, {}, undefined, many, undefined, at(NOW)));
    expect(s.spendByModel).toHaveLength(POLICY_MODELS_MAX);
    expect(s.inactivity?.members).toHaveLength(INACTIVE_NAMED_MAX);
    expect(s.inactivity?.disabled).toBe(30);
    expect(s.guardrail?.models?.allow).toHaveLength(SLUG_LIST_MAX);
    expect(s.conditions?.map((c) => c.type)).toEqual(['Ready', 'GuardrailSynced']);
    expect(inUseMessage(many.map((m) => m.metadata.name)).length).toBeLessThan(1000);
  });
});
