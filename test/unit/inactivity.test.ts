import { describe, expect, it } from 'vitest';
import { resolved } from '../kit/resolved.ts';
import { idleState, nextActivity, nextIdleStep, reactivationAsked } from '../../src/controller/member/decide.ts';
import { aKey } from './keys.ts';

const H = 3_600_000;
const T0 = Date.parse('2026-03-10T00:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();
const spent = (usd: number, byok = 0) => ({ usage: { daily: usd, weekly: usd, monthly: usd, total: usd }, byok: { daily: byok, weekly: byok, monthly: byok, total: byok } });
const ref = { hash: 'k1', createdAt: iso(T0) };

describe('nextActivity', () => {
  it('starts from the first key\'s creation', () => {
    expect(nextActivity(undefined, ref, aKey('k1'), iso(T0 + H))).toEqual({ lastSpendAt: iso(T0), keyHash: 'k1', lifetimeUSD: 0 });
  });
  it('moves when lifetime spend grows, BYOK included, and not for rounding', () => {
    const a = { lastSpendAt: iso(T0), keyHash: 'k1', lifetimeUSD: 1 };
    expect(nextActivity(a, ref, aKey('k1', spent(1.00001)), iso(T0 + H))).toBe(a);
    expect(nextActivity(a, ref, aKey('k1', spent(1, 0.5)), iso(T0 + H))).toEqual({ lastSpendAt: iso(T0 + H), keyHash: 'k1', lifetimeUSD: 1.5 });
  });
  it('keeps the last spend time across a new key (a rotation is not activity), unless the new key already spent', () => {
    const a = { lastSpendAt: iso(T0), keyHash: 'k1', lifetimeUSD: 3, reactivation: 'r' };
    const k2 = { hash: 'k2', createdAt: iso(T0 + H) };
    expect(nextActivity(a, k2, aKey('k2'), iso(T0 + 2 * H))).toEqual({ lastSpendAt: iso(T0), keyHash: 'k2', lifetimeUSD: 0, reactivation: 'r' });
    expect(nextActivity(a, k2, aKey('k2', spent(0.2)), iso(T0 + 2 * H))?.lastSpendAt).toBe(iso(T0 + 2 * H));
  });
  it('changes nothing without an observed key of that hash', () => {
    const a = { lastSpendAt: iso(T0), keyHash: 'k1', lifetimeUSD: 0 };
    expect(nextActivity(a, ref, undefined, iso(T0 + H))).toBe(a);
    expect(nextActivity(a, ref, aKey('other'), iso(T0 + H))).toBe(a);
  });
});

describe('idleState and nextIdleStep', () => {
  const policy = resolved({ inactivity: { disableAfter: '2h', deleteAfter: '5h' } }).inactivity;
  const a = { lastSpendAt: iso(T0), keyHash: 'k1', lifetimeUSD: 0 };
  it.each([
    [0, 'active', T0 + 2 * H],
    [2 * H - 1, 'active', T0 + 2 * H],
    [2 * H, 'disable', T0 + 5 * H],
    [5 * H - 1, 'disable', T0 + 5 * H],
    [5 * H, 'delete', undefined],
  ] as const)('after %i ms idle: %s, next step at %s', (idle, state, next) => {
    expect(idleState(policy, a, T0 + idle)).toBe(state);
    expect(nextIdleStep(policy, a, state)).toBe(next);
  });
  it('never reaps without a policy, or without an activity record yet', () => {
    expect(idleState(undefined, a, T0 + 100 * H)).toBe('active');
    expect(idleState(policy, undefined, T0 + 100 * H)).toBe('active');
    expect(nextIdleStep(resolved({ inactivity: { disableAfter: '2h' } }).inactivity, a, 'disable')).toBeUndefined();
  });
});

describe('reactivationAsked', () => {
  it('is a new, non-empty annotation value', () => {
    const a = { lastSpendAt: iso(T0), keyHash: 'k1', lifetimeUSD: 0, reactivation: 'one' };
    expect(reactivationAsked(undefined, a)).toBe(false);
    expect(reactivationAsked('', a)).toBe(false);
    expect(reactivationAsked('one', a)).toBe(false);
    expect(reactivationAsked('two', a)).toBe(true);
    expect(reactivationAsked('one', undefined)).toBe(true);
  });
});
