import { describe, expect, it } from 'vitest';
import { carriedSpend, retiredFromKey, retiredFromObserved, withRetired, type RetiredKey } from '../../src/controller/member/carry.ts';
import type { Spend } from '../../src/domain/key.ts';
import { aKey } from './keys.ts';

// fixed instants instead of a clock: Wednesday 2026-03-18, in the week from Monday 03-16 and the month of March
const WED = Date.parse('2026-03-18T12:00:00Z');
const at = (iso: string) => Date.parse(iso);
const key = (hash: string, usage: Partial<Spend> = {}) => aKey(hash, {
  usage: { daily: 1, weekly: 3, monthly: 6, total: 9, ...usage }, byok: { daily: 0.1, weekly: 0.3, monthly: 0.6, total: 0.9 },
});

describe('carriedSpend', () => {
  const list = [retiredFromKey(key('a'), WED)];
  it.each([
    ['daily', false, WED + 3_600_000, 1],
    ['daily', true, WED + 3_600_000, 1.1],
    ['daily', false, at('2026-03-19T00:00:01Z'), 0], // the next day: a fresh window
    ['weekly', false, at('2026-03-22T23:59:59Z'), 3], // Sunday, same week
    ['weekly', false, at('2026-03-23T00:00:00Z'), 0], // Monday: a new week
    ['monthly', false, at('2026-03-31T23:00:00Z'), 6],
    ['monthly', false, at('2026-04-01T00:00:00Z'), 0],
    ['never', false, at('2027-01-01T00:00:00Z'), 9],
    ['never', true, at('2027-01-01T00:00:00Z'), 9.9],
  ] as const)('%s (BYOK %s) at %s counts %s', (reset, byok, now, want) => {
    expect(carriedSpend(list, reset, byok, now)).toBe(want);
  });

  it('survives a change of reset period mid-window: the same retired key counts in the new window', () => {
    // retired under a monthly budget; the policy switches to weekly the same week
    expect(carriedSpend(list, 'monthly', false, WED)).toBe(6);
    expect(carriedSpend(list, 'weekly', false, WED)).toBe(3);
  });
});

describe('withRetired', () => {
  it('records a key once however often a replacement is retried, keeping the freshest reading', () => {
    let list: RetiredKey[] = [];
    list = withRetired(list, retiredFromKey(key('a', { monthly: 2 }), WED), WED);
    list = withRetired(list, retiredFromKey(key('a', { monthly: 2.5 }), WED + 1_000), WED + 1_000);
    list = withRetired(list, retiredFromKey(key('a', { monthly: 2.5 }), WED + 2_000), WED + 2_000);
    expect(list).toHaveLength(1);
    expect(carriedSpend(list, 'monthly', false, WED + 3_000)).toBe(2.5);
  });

  it('adds different keys', () => {
    const list = withRetired(withRetired([], retiredFromKey(key('a'), WED), WED), retiredFromKey(key('b', { monthly: 1 }), WED), WED);
    expect(carriedSpend(list, 'monthly', false, WED)).toBe(7);
  });

  it('folds keys older than any window into one lifetime total, so the list stays short and lifetime budgets exact', () => {
    let list: RetiredKey[] = [];
    for (let i = 0; i < 5; i++) list = withRetired(list, retiredFromKey(key(`k${i}`), at('2025-01-01T00:00:00Z') + i * 86_400_000), WED);
    list = withRetired(list, retiredFromKey(key('now'), WED), WED);
    expect(list.map((r) => r.hash)).toEqual(['earlier', 'now']);
    expect(carriedSpend(list, 'never', true, WED)).toBe(59.4); // 6 keys x 9.9
    expect(carriedSpend(list, 'monthly', false, WED)).toBe(6);
  });
});

describe('retiredFromObserved', () => {
  it('takes the last observed spend of a key that can no longer be read', () => {
    const r = retiredFromObserved('gone', { dailyUSD: 1, weeklyUSD: 2, monthlyUSD: 4, byokUSD: 0.5, lifetimeUSD: 8.5, observedAt: '2026-03-18T10:00:00.000Z' });
    expect(r).toEqual({ hash: 'gone', retiredAt: '2026-03-18T10:00:00.000Z', usage: { daily: 1, weekly: 2, monthly: 4, total: 8 }, byok: { daily: 0, weekly: 0, monthly: 0, total: 0.5 } });
  });
});
