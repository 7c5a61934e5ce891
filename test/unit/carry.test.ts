import { describe, expect, it } from 'vitest';
import { RETIRED_KEYS_MAX } from '../../src/api/schema.ts';
import { CLOCK_MARGIN_MS, carriedSpend, retiredFromDraining, retiredFromKey, retiredFromObserved, withRetired, type RetiredKey } from '../../src/controller/member/budget.ts';
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

describe('withRetired stays within the CRD bound without losing money', () => {
  it('keeps at most RETIRED_KEYS_MAX entries through 200 replacements in one day, every window summed exactly', () => {
    let list: RetiredKey[] = [];
    const start = at('2026-03-18T00:00:00Z');
    for (let i = 0; i < 200; i++) {
      const t = start + i * 400_000; // every 6m40s: all on one UTC day
      list = withRetired(list, retiredFromKey(key(`k${i}`, { daily: 0.01, weekly: 0.02, monthly: 0.03, total: 0.04 }), t), t);
      expect(list.length).toBeLessThanOrEqual(RETIRED_KEYS_MAX);
    }
    const now = start + 200 * 400_000;
    expect(carriedSpend(list, 'daily', false, now)).toBe(2);
    expect(carriedSpend(list, 'weekly', false, now)).toBe(4);
    expect(carriedSpend(list, 'monthly', false, now)).toBe(6);
    expect(carriedSpend(list, 'never', false, now)).toBe(8);
  });

  it('merges only entries of one UTC day, oldest first: a month of replacements every 5 h keeps every window exact', () => {
    let list: RetiredKey[] = [];
    const start = at('2026-03-01T06:00:00Z');
    for (let i = 0; i < 140; i++) {
      const t = start + i * 5 * 3_600_000; // every 5 h, 29 days
      list = withRetired(list, retiredFromKey(key(`k${i}`, { daily: 0.1, weekly: 0.1, monthly: 0.1, total: 0.1 }), t), t);
      expect(list.length).toBeLessThanOrEqual(RETIRED_KEYS_MAX);
    }
    const now = start + 139 * 5 * 3_600_000;
    // what a plain sum over every key retired in the current window would give
    const inWindow = (reset: 'daily' | 'weekly' | 'monthly') => {
      let n = 0;
      for (let i = 0; i < 140; i++) {
        const t = start + i * 5 * 3_600_000;
        const w = (x: number) => (reset === 'daily' ? new Date(x).toISOString().slice(0, 10) : reset === 'monthly' ? new Date(x).toISOString().slice(0, 7) : Math.floor((x / 86_400_000 + 3) / 7));
        if (w(t) === w(now)) n++;
      }
      return Math.round(n * 0.1 * 1e6) / 1e6;
    };
    expect(carriedSpend(list, 'daily', false, now)).toBe(inWindow('daily'));
    expect(carriedSpend(list, 'weekly', false, now)).toBe(inWindow('weekly'));
    expect(carriedSpend(list, 'monthly', false, now)).toBe(inWindow('monthly'));
    expect(carriedSpend(list, 'never', false, now)).toBe(14);
  });

  it('never lets an estimate replace a spend read fresh (a retry after the key was revoked)', () => {
    const fresh = withRetired([], retiredFromKey(key('a', { monthly: 4 }), WED), WED);
    const estimate = retiredFromObserved('a', { dailyUSD: 1, weeklyUSD: 2, monthlyUSD: 2, byokUSD: 0, lifetimeUSD: 2, observedAt: '2026-03-18T10:00:00.000Z' });
    expect(carriedSpend(withRetired(fresh, estimate, WED + 1_000, false), 'monthly', false, WED + 1_000)).toBe(4);
    // with nothing recorded yet, the estimate is all there is
    expect(carriedSpend(withRetired([], estimate, WED + 1_000, false), 'monthly', false, WED + 1_000)).toBe(2);
  });
});

describe('overlap spend near a window boundary (OpenRouter may have turned its window first)', () => {
  const drained = (retiredAt: number): RetiredKey => ({ ...retiredFromKey(key('d', { daily: 0.3 }), retiredAt), overlapUSD: 0.2 });
  const midnight = at('2026-03-19T00:00:00Z');
  it.each([
    ['retired 5 min before our midnight: its overlap counts in the next day too', midnight - 5 * 60_000, midnight + 3_600_000, 0.2],
    ['retired just inside the margin', midnight - CLOCK_MARGIN_MS, midnight + 3_600_000, 0.2],
    ['retired well before midnight: only its own day', midnight - CLOCK_MARGIN_MS - 60_000, midnight + 3_600_000, 0],
    ['in its own day it counts its window spend, not the overlap twice', midnight - 5 * 60_000, midnight - 60_000, 0.3],
    ['two days on, nothing', midnight - 5 * 60_000, midnight + 86_400_000 + 1, 0],
  ])('%s', (_n, retiredAt, now, want) => {
    expect(carriedSpend([drained(retiredAt)], 'daily', false, now)).toBe(want);
  });
});

describe('retiredFromDraining: OpenRouter\'s clock behind ours, a key read just after our midnight', () => {
  const midnight = at('2026-03-19T00:00:00Z'); // a Thursday: only the day turns
  const k = key('d', { daily: 0.5, weekly: 0.9, monthly: 1.2 });
  it.each([
    ['rotated yesterday, retired 5 min after our midnight: the day counts no more than its overlap', midnight - 3_600_000, midnight + 5 * 60_000, { daily: 0.2, weekly: 0.9, monthly: 1.2 }],
    ['rotated yesterday, retired well after midnight: OpenRouter has turned too', midnight - 3_600_000, midnight + CLOCK_MARGIN_MS + 60_000, { daily: 0.5, weekly: 0.9, monthly: 1.2 }],
    ['rotated after our midnight: all it shows is this window\'s', midnight + 60_000, midnight + 5 * 60_000, { daily: 0.5, weekly: 0.9, monthly: 1.2 }],
  ])('%s', (_n, rotatedAt, retiredAt, want) => {
    const r = retiredFromDraining(k, retiredAt, rotatedAt, 0.2);
    expect({ daily: r.usage.daily, weekly: r.usage.weekly, monthly: r.usage.monthly }).toEqual(want);
    expect(r.overlapUSD).toBe(0.2);
  });
});

describe('retiredFromObserved', () => {
  it('takes the last observed spend of a key that can no longer be read', () => {
    const r = retiredFromObserved('gone', { dailyUSD: 1, weeklyUSD: 2, monthlyUSD: 4, byokUSD: 0.5, lifetimeUSD: 8.5, observedAt: '2026-03-18T10:00:00.000Z' });
    expect(r).toEqual({ hash: 'gone', retiredAt: '2026-03-18T10:00:00.000Z', usage: { daily: 1, weekly: 2, monthly: 4, total: 8 }, byok: { daily: 0, weekly: 0, monthly: 0, total: 0.5 } });
  });
});
