import { describe, expect, it } from 'vitest';
import { limitRemaining, windowsOf } from '../../src/emulator/usage.ts';
import type { KeyRecord } from '../../src/emulator/state.ts';

const key = (over: Partial<KeyRecord>): KeyRecord => ({
  hash: 'h', name: 'n', digest: 'd', label: 'l', management: false, disabled: false, limit: null, limitReset: null,
  includeByokInLimit: false, createdAt: '', updatedAt: null, expiresAt: null, creatorUserId: null, workspaceId: 'w',
  externalUser: null, usage: 0, byokUsage: 0, days: {}, ...over,
});

describe('usage windows of a key', () => {
  const days = { '2026-02-27': { usage: 1, byok: 0 }, '2026-03-01': { usage: 2, byok: 0.5 }, '2026-03-02': { usage: 4, byok: 0 } };
  const now = Date.parse('2026-03-02T10:00:00Z'); // a Monday, second day of the month

  it('sums per-day spend into day, week and month', () => {
    expect(windowsOf(key({ days }), now)).toEqual({ daily: 4, weekly: 4, monthly: 6, byokDaily: 0, byokWeekly: 0, byokMonthly: 0.5 });
  });

  it.each([
    ['daily', false, 6],
    ['weekly', false, 6],
    ['monthly', false, 4],
    ['monthly', true, 3.5],
    [null, false, 3],
  ] as const)('limit 10 resetting %s (byok counted: %s) leaves %d', (limitReset, includeByokInLimit, remaining) => {
    expect(limitRemaining(key({ days, limit: 10, limitReset, includeByokInLimit, usage: 7, byokUsage: 0.5 }), now)).toBe(remaining);
  });

  it('never reports a negative remainder and null without a limit', () => {
    expect(limitRemaining(key({ limit: 1, usage: 5 }), now)).toBe(0);
    expect(limitRemaining(key({ usage: 5 }), now)).toBeNull();
  });
});
