import { describe, expect, it } from 'vitest';
import { replaceNotBefore, standing, type StandingInput } from '../../src/controller/member/decide.ts';
import { retiredFromKey } from '../../src/controller/member/budget.ts';
import { aKey } from './keys.ts';

const NOW = Date.parse('2026-03-18T12:00:00Z');
const base: StandingInput = {
  deleting: false, suspended: false, expiresAt: undefined, now: NOW,
  policy: { name: 'pro', found: true, allowsNamespace: true }, namespace: 'team',
  budget: { ok: true, budget: { limitUSD: 5, reset: 'monthly', includeByok: false } }, inactive: false,
};
const tooHigh = { ok: false as const, reason: 'LimitAboveMax' as const, message: 'spec.limitUSD 4 is above 2' };
const past = '2026-03-18T11:00:00Z';

describe('one precedence chain: deleted > suspended > expired > policy missing / not allowed > limit invalid > inactive', () => {
  it.each<[string, Partial<StandingInput>, string]>([
    ['all well', {}, 'served'],
    ['deleted, whatever else', { deleting: true, suspended: true, expiresAt: past, policy: { name: 'x', found: false, allowsNamespace: false }, budget: tooHigh }, 'deleted'],
    ['suspended with a limit above a lowered memberMaxUSD', { suspended: true, budget: tooHigh }, 'off/Suspended'],
    ['suspended with its policy gone', { suspended: true, policy: { name: 'x', found: false, allowsNamespace: false }, budget: undefined }, 'off/Suspended'],
    ['suspended and expired', { suspended: true, expiresAt: past }, 'off/Suspended'],
    ['expired with a limit above the maximum', { expiresAt: past, budget: tooHigh }, 'off/Expired'],
    ['expired in a namespace the policy does not allow', { expiresAt: past, policy: { name: 'pro', found: true, allowsNamespace: false } }, 'off/Expired'],
    ['an expiry still ahead', { expiresAt: '2026-03-18T12:00:01Z' }, 'served'],
    ['expiring this very instant', { expiresAt: '2026-03-18T12:00:00Z' }, 'off/Expired'],
    ['policy gone', { policy: { name: 'x', found: false, allowsNamespace: false }, budget: undefined }, 'off/PolicyNotFound'],
    ['namespace not allowed, limit above the maximum too', { policy: { name: 'pro', found: true, allowsNamespace: false }, budget: tooHigh }, 'off/PolicyNotAllowed'],
    ['limit above the maximum: frozen, not disabled', { budget: tooHigh }, 'frozen/LimitAboveMax'],
    ['limit above the maximum while inactive', { budget: tooHigh, inactive: true }, 'frozen/LimitAboveMax'],
    ['inactive', { inactive: true }, 'off/Inactive'],
  ])('%s', (_n, change, want) => {
    const s = standing({ ...base, ...change });
    expect(s.kind === 'off' || s.kind === 'frozen' ? `${s.kind}/${s.reason}` : s.kind).toBe(want);
  });
});

describe('replacements are rate-limited per member', () => {
  const retiredAt = (...minutesAgo: number[]) => minutesAgo.map((m, i) => retiredFromKey(aKey(`r${i}`), NOW - m * 60_000));
  const issued = (secondsAgo: number) => new Date(NOW - secondsAgo * 1000).toISOString();
  it.each<[string, number[], number, number]>([
    ['the first replacement in an hour is immediate', [], 0, 0],
    ['and the second', [5], 0, 0],
    ['the third waits until the key lived 30 s', [5, 3], 10, 20],
    ['the fourth 60 s', [5, 3, 2], 10, 50],
    ['the sixth 4 min', [9, 8, 7, 6, 5], 10, 230],
    ['never more than an hour', Array.from({ length: 30 }, (_, i) => 50 - i), 10, 3_590],
    ['replacements more than a day ago do not count', [1_441, 1_500, 2_000], 0, 0],
  ])('%s', (_n, ago, lived, waitSeconds) => {
    expect((replaceNotBefore(retiredAt(...ago), issued(lived), NOW) - NOW) / 1000).toBe(waitSeconds);
  });

  it('a compromise loop of a day makes at most a few dozen keys', () => {
    let t = NOW;
    const retired = [];
    let issuedAt = t;
    for (let n = 0; t < NOW + 86_400_000; n++) {
      const due = replaceNotBefore(retired, new Date(issuedAt).toISOString(), t);
      t = Math.max(t + 1_000, due); // the loop disables each new key at once
      retired.push(retiredFromKey(aKey(`k${n}`), t));
      issuedAt = t;
      expect(n).toBeLessThan(40);
    }
  });
});
