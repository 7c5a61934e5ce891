/** toJson is JSON's own round trip, without the text: the same value for everything a status or patch holds. */
import { describe, expect, it } from 'vitest';
import { toJson } from '../../src/util/json.ts';

const roundTrip = (v: unknown): unknown => JSON.parse(JSON.stringify(v ?? null));

describe('toJson', () => {
  it.each([
    ['a status with undefined fields at every depth', { key: { hash: 'h', workspaceId: undefined }, conditions: [{ type: 'Ready', observedGeneration: undefined }], usage: undefined }],
    ['arrays holding undefined, functions and symbols', [1, undefined, () => 1, Symbol('s'), 'x']],
    ['numbers JSON cannot write, and -0', { nan: Number.NaN, inf: Number.POSITIVE_INFINITY, ninf: Number.NEGATIVE_INFINITY, negZero: -0, small: 1e-9, big: 1.7e21 }],
    ['dates and other toJSON values, nested', { at: new Date('2027-03-10T12:00:00.123Z'), custom: { toJSON: () => ({ inner: new Date(0), gone: undefined }) } }],
    ['empty things and null', { a: {}, b: [], c: null, d: '' }],
    ['a bare string', 'text'],
    ['a bare date', new Date('2027-01-01T00:00:00Z')],
    ['undefined itself', undefined],
    ['null itself', null],
  ])('%s', (_name, value) => {
    const out = toJson(value);
    expect(out).toStrictEqual(roundTrip(value));
    expect(JSON.stringify(out)).toBe(JSON.stringify(roundTrip(value)));
  });

  it('copies: changing the copy leaves the original alone', () => {
    const original = { conditions: [{ type: 'Ready' }] };
    const out = toJson(original) as { conditions: { type: string }[] };
    out.conditions[0]!.type = 'Changed';
    expect(original.conditions[0]?.type).toBe('Ready');
  });

  it('refuses what JSON refuses', () => {
    expect(() => toJson({ n: 1n })).toThrow(/bigint/);
  });
});
