import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../src/util/duration.ts';

describe('durations', () => {
  it('parses durations', () => {
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('2160h')).toBe(7_776_000_000);
    expect(() => parseDuration('5 minutes')).toThrow(/invalid duration/);
  });
});
