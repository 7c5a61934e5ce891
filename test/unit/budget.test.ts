import { describe, expect, it } from 'vitest';
import { budgetLevel, effectiveBudget, keyDrift, keyLimit, windowId, windowSpend } from '../../src/controller/member/budget.ts';
import { keyExpiry, keyOutlivesAllowance } from '../../src/controller/member/plan.ts';
import type { KeyPolicySpec, TeamMemberSpec } from '../../src/api/schema.ts';
import { resolved } from '../kit/resolved.ts';
import { aKey } from './keys.ts';

const spec = (s: Partial<TeamMemberSpec> = {}): TeamMemberSpec => ({ policy: 'p', suspended: false, ...s });
const policy = (p: Partial<KeyPolicySpec> = {}) => resolved(p);

describe('effectiveBudget', () => {
  it.each<[string, Partial<TeamMemberSpec>, Partial<KeyPolicySpec>, ReturnType<typeof effectiveBudget>]>([
    ['the policy cap', {}, { budget: { limitUSD: 50, reset: 'weekly', includeByok: true } }, { ok: true, budget: { limitUSD: 50, reset: 'weekly', includeByok: true } }],
    ['no cap at all', {}, {}, { ok: true, budget: { limitUSD: undefined, reset: 'monthly', includeByok: false } }],
    ['a member limit within memberMaxUSD', { limitUSD: 75 }, { budget: { limitUSD: 50, memberMaxUSD: 200, reset: 'monthly', includeByok: false } }, { ok: true, budget: { limitUSD: 75, reset: 'monthly', includeByok: false } }],
    ['a lower member limit without memberMaxUSD', { limitUSD: 10 }, { budget: { limitUSD: 50, reset: 'monthly', includeByok: false } }, { ok: true, budget: { limitUSD: 10, reset: 'monthly', includeByok: false } }],
  ])('%s', (_n, m, p, want) => {
    expect(effectiveBudget(spec(m), policy(p))).toEqual(want);
  });

  it('refuses a member limit above the maximum', () => {
    expect(effectiveBudget(spec({ limitUSD: 60 }), policy({ budget: { limitUSD: 50, reset: 'monthly', includeByok: false } }))).toMatchObject({ ok: false, reason: 'LimitAboveMax' });
  });
});

describe('keyExpiry', () => {
  const created = Date.parse('2026-03-01T10:00:00.123Z');
  it.each<[string, Partial<TeamMemberSpec>, Partial<KeyPolicySpec>, string | undefined]>([
    ['none', {}, {}, undefined],
    ['the TTL', {}, { keyTTL: '48h' }, '2026-03-03T10:00:00Z'],
    ['the member end', { expiresAt: '2026-03-02T00:00:00Z' }, {}, '2026-03-02T00:00:00Z'],
    ['the earlier of both', { expiresAt: '2026-03-05T00:00:00Z' }, { keyTTL: '48h' }, '2026-03-03T10:00:00Z'],
    ['a member end with an offset, in UTC for OpenRouter', { expiresAt: '2026-03-02T18:00:00+02:00' }, {}, '2026-03-02T16:00:00Z'],
    ['a member end in lower case with fractions', { expiresAt: '2026-03-02t18:00:00.75z' }, {}, '2026-03-02T18:00:00Z'],
  ])('%s', (_n, m, p, want) => {
    expect(keyExpiry(created, spec(m), policy(p))).toBe(want);
  });
});

describe('budget math', () => {
  const k = aKey('h', { usage: { daily: 1, weekly: 3, monthly: 6, total: 10 }, byok: { daily: 0.5, weekly: 1, monthly: 2, total: 4 } });
  it.each([
    ['daily', false, 1], ['weekly', false, 3], ['monthly', false, 6], ['never', false, 10], ['monthly', true, 8], ['never', true, 14],
  ] as const)('%s window (byok %s) spends %d', (reset, byok, want) => {
    expect(windowSpend(k, reset, byok)).toBe(want);
  });
  it.each([
    [0, 10, 80, 'ok'], [8, 10, 80, 'warn'], [10, 10, 80, 'exhausted'], [11, 10, 80, 'exhausted'], [100, undefined, 80, 'ok'], [0, 0, 80, 'exhausted'],
  ] as const)('spent %d of %s at %d%% is %s', (spent, limit, warn, want) => {
    expect(budgetLevel(spent, limit, warn)).toBe(want);
  });
  it('sees drift in any of the four key parameters', () => {
    const key = aKey('h');
    const want = { limitUSD: 5, reset: 'monthly' as const, includeByok: false };
    expect(keyDrift(key, want, false)).toBe(false);
    expect(keyDrift(key, want, true)).toBe(true);
    expect(keyDrift(key, { ...want, limitUSD: 6 }, false)).toBe(true);
    expect(keyDrift(key, { ...want, reset: 'never' }, false)).toBe(true);
    expect(keyDrift({ ...key, limitUSD: undefined, reset: 'never' }, { limitUSD: undefined, reset: 'never', includeByok: false }, false)).toBe(false);
    expect(keyDrift({ ...key, limitUSD: 3.33 }, { ...want, limitUSD: 3.333333 }, false)).toBe(true);
    expect(keyDrift({ ...key, limitUSD: 3.333333 }, { ...want, limitUSD: 3.3333334 }, false)).toBe(false);
  });
});

describe('keyOutlivesAllowance: our expiry against what we asked for, never against OpenRouter\'s clock', () => {
  // when the operator asked for the key (its clock); OpenRouter's createdAt plays no part
  const issued = '2026-03-01T10:00:00Z';
  it.each<[string, string | undefined, string | undefined, Partial<TeamMemberSpec>, Partial<KeyPolicySpec>, boolean]>([
    ['no limits at all', undefined, issued, {}, {}, false],
    ['the key ends with the member', '2026-03-02T00:00:00Z', issued, { expiresAt: '2026-03-02T00:00:00Z' }, {}, false],
    ['the member end moved earlier', '2026-03-05T00:00:00Z', issued, { expiresAt: '2026-03-02T00:00:00Z' }, {}, true],
    ['the member end moved later (renewed when the key runs out)', '2026-03-02T00:00:00Z', issued, { expiresAt: '2026-03-09T00:00:00Z' }, {}, false],
    ['a member end set on a key without expiry', undefined, issued, { expiresAt: '2026-03-09T00:00:00Z' }, {}, true],
    ['the TTL as asked (seconds dropped)', '2026-03-03T10:00:00Z', '2026-03-01T10:00:00.900Z', {}, { keyTTL: '48h' }, false],
    ['a shortened TTL', '2026-04-01T00:00:00Z', issued, {}, { keyTTL: '48h' }, true],
    ['a TTL shortened by one minute', '2026-03-03T10:00:00Z', issued, {}, { keyTTL: '47h59m' }, true],
    ['a key issued before issuedAt was recorded: judged when it runs out', '2026-04-01T00:00:00Z', undefined, {}, { keyTTL: '48h' }, false],
  ])('%s', (_n, keyEnd, issuedAt, m, p, want) => {
    expect(keyOutlivesAllowance({ expiresAt: keyEnd, issuedAt }, spec(m), policy(p))).toBe(want);
  });
});

describe('carried spend (invariant 3: no second budget on replacement)', () => {
  it('reduces the key limit by what replaced keys spent, never below zero', () => {
    expect(keyLimit(10, 0)).toBe(10);
    expect(keyLimit(10, 6.5)).toBe(3.5);
    expect(keyLimit(10, 12)).toBe(0);
    expect(keyLimit(undefined, 12)).toBeUndefined();
  });
  it('names the window the spend belongs to', () => {
    const t = Date.parse('2026-03-04T15:00:00Z');
    expect(windowId('daily', t)).toBe('2026-03-04T00:00:00.000Z');
    expect(windowId('weekly', t)).toBe('2026-03-02T00:00:00.000Z');
    expect(windowId('monthly', t)).toBe('2026-03-01T00:00:00.000Z');
    expect(windowId('never', t)).toBe('never');
  });
});
