import { describe, expect, it } from 'vitest';
import { Faults, FaultRuleSchema } from '../../src/emulator/faults.ts';

const rule = (r: unknown) => FaultRuleSchema.parse(r);

describe('fault rules', () => {
  it('fire for the next N matching calls only', () => {
    const f = new Faults();
    f.set([rule({ route: 'POST /api/v1/keys', kind: 'error', status: 502, times: 2 })]);
    expect(f.before('GET /api/v1/keys').kind).toBe('none');
    expect(f.before('POST /api/v1/keys')).toEqual({ kind: 'error', status: 502, latencyMs: 0 });
    expect(f.before('POST /api/v1/keys').kind).toBe('error');
    expect(f.before('POST /api/v1/keys').kind).toBe('none');
    expect(f.list()).toEqual([]);
  });

  it('add latency to a failure and keep commit-then-fail rules for after the handler', () => {
    const f = new Faults();
    f.set([rule({ kind: 'latency', latencyMs: 50 }), rule({ kind: 'rateLimit', retryAfterSeconds: 3 }), rule({ kind: 'commitThenCut', times: 1 })]);
    expect(f.before('GET /x')).toEqual({ kind: 'rateLimit', retryAfterSeconds: 3, latencyMs: 50 });
    expect(f.after('GET /x')).toEqual({ kind: 'cut', latencyMs: 0 });
    expect(f.after('GET /x').kind).toBe('none');
  });

  it('shift only pages after the first (listShift), and only for listing', () => {
    const f = new Faults();
    f.set([rule({ route: 'GET /api/v1/keys', kind: 'listShift', times: 2 })]);
    expect(f.before('GET /api/v1/keys').kind).toBe('none');
    expect(f.after('GET /api/v1/keys').kind).toBe('none');
    expect(f.shift('GET /api/v1/keys', 0)).toBe(0);
    expect(f.shift('GET /api/v1/keys', 100)).toBe(1);
    expect(f.shift('GET /api/v1/keys/{hash}', 100)).toBe(0);
    f.set([rule({ kind: 'listShift', shift: 3 })]);
    expect(f.shift('GET /api/v1/keys', 200)).toBe(3);
    expect(f.list()).toHaveLength(1);
  });

  it('replay the same schedule for the same seed', () => {
    const schedule = (seed: number) => {
      const f = new Faults();
      f.set([rule({ kind: 'error', probability: 0.3 })], seed);
      return Array.from({ length: 50 }, () => f.before('GET /x').kind);
    };
    expect(schedule(7)).toEqual(schedule(7));
    expect(schedule(7)).not.toEqual(schedule(8));
    expect(schedule(7).filter((k) => k === 'error').length).toBeGreaterThan(5);
  });
});
