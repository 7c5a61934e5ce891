import { describe, expect, it } from 'vitest';
import { nextReset, windowStart } from '../../src/util/windows.ts';

const iso = (ms: number) => new Date(ms).toISOString();

describe('UTC reset windows', () => {
  it.each([
    ['daily', '2026-03-04T15:00:00Z', '2026-03-04T00:00:00.000Z', '2026-03-05T00:00:00.000Z'],
    ['weekly', '2026-03-04T15:00:00Z', '2026-03-02T00:00:00.000Z', '2026-03-09T00:00:00.000Z'], // Wednesday -> Monday
    ['weekly', '2026-03-08T23:59:59Z', '2026-03-02T00:00:00.000Z', '2026-03-09T00:00:00.000Z'], // Sunday is the last day
    ['weekly', '2026-03-09T00:00:00Z', '2026-03-09T00:00:00.000Z', '2026-03-16T00:00:00.000Z'], // Monday starts a week
    ['monthly', '2026-02-28T23:59:59Z', '2026-02-01T00:00:00.000Z', '2026-03-01T00:00:00.000Z'],
    ['monthly', '2026-12-31T12:00:00Z', '2026-12-01T00:00:00.000Z', '2027-01-01T00:00:00.000Z'],
  ] as const)('%s window of %s starts %s and resets %s', (period, at, start, next) => {
    expect(iso(windowStart(period, Date.parse(at)))).toBe(start);
    expect(iso(nextReset(period, Date.parse(at)))).toBe(next);
  });
});
