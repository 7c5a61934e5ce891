import { describe, expect, it } from 'vitest';
import type { PreviousKey, TeamMember, TeamMemberStatus } from '../../src/api/schema.ts';
import { resolved } from '../kit/resolved.ts';
import { drainLimit, drainReserve, overlapAllowance, retiredFromReserve } from '../../src/controller/member/budget.ts';
import { nextPreviousKeyStep, nextRotation, renewalDue, rotationAsked, spreadOf, withPrevious } from '../../src/controller/member/rotation.ts';

const key = { hash: 'h1', name: 'n', label: 'l', createdAt: '2026-03-01T00:00:00Z', disabled: false, reset: 'monthly' as const, includeByok: false };
const policy = resolved({ rotation: { every: '240h', overlap: '1h', overlapAllowancePercent: 5, retainDisabled: '1h' } });
const member = (status: TeamMemberStatus, annotations?: Record<string, string>): TeamMember => ({
  apiVersion: 'teamkeys.dev/v1alpha1', kind: 'TeamMember', metadata: { name: 'a', namespace: 'n', uid: 'uid-1', ...(annotations ? { annotations } : {}) }, spec: { policy: 'p', suspended: false }, status,
});
const prev = (over: Partial<PreviousKey> = {}): PreviousKey => ({
  hash: 'old', name: 'n', label: 'l', state: 'Draining', rotatedAt: '2026-03-10T00:00:00Z', retireAt: '2026-03-10T01:00:00Z', window: 'w1', spentUSD: 3, allowanceUSD: 0.5, ...over,
});
const at = (iso: string) => Date.parse(iso);

describe('when a key rotates', () => {
  it('spreads scheduled rotations over the last tenth of the period (at most a day), the same after every restart', () => {
    const scheduled = (p = policy) => nextRotation({ status: { key }, spec: {}, uid: 'uid-1' }, p);
    const due = scheduled()?.at ?? 0;
    const created = at(key.createdAt);
    expect(scheduled()?.trigger).toBe('Scheduled');
    expect(due).toBeLessThanOrEqual(created + 240 * 3_600_000);
    expect(due).toBeGreaterThan(created + 240 * 3_600_000 - 24 * 3_600_000);
    expect(scheduled()?.at).toBe(due);
    const spread = new Set(Array.from({ length: 1000 }, (_, i) => Math.floor(spreadOf(`member-${i}`) * 24)));
    expect(spread.size, '1,000 members land in every hour of the day').toBe(24);
    expect(scheduled(resolved())).toBeUndefined();
  });

  describe('renewal ahead of expiry (keyTTL)', () => {
    const H = 3_600_000;
    const issued = '2026-03-01T00:00:00Z';
    const ttlKey = { ...key, issuedAt: issued, expiresAt: '2026-03-31T00:00:00Z' };
    const ttl = resolved({ keyTTL: '720h' });
    const end = at(ttlKey.expiresAt);

    it('renews a third of the lifetime ahead by default, spread over a tenth of that lead (at most a day)', () => {
      const due = renewalDue(ttlKey, {}, 'uid-1', ttl) ?? 0;
      expect(due).toBeLessThanOrEqual(end - 240 * H);
      expect(due).toBeGreaterThan(end - 240 * H - 24 * H);
      expect(nextRotation({ status: { key: ttlKey }, spec: {}, uid: 'uid-1' }, ttl)).toEqual({ at: due, trigger: 'Renewal' });
    });

    it('renews renewBefore ahead when the policy says so, spread over a tenth of it', () => {
      const due = renewalDue(ttlKey, {}, 'uid-1', resolved({ keyTTL: '720h', renewBefore: '48h' })) ?? 0;
      expect(due).toBeLessThanOrEqual(end - 48 * H);
      expect(due).toBeGreaterThan(end - 48 * H - 4.8 * H);
    });

    it('measures the lifetime from the key itself: a key issued under an older, longer keyTTL is still renewed in time', () => {
      const long = { ...ttlKey, expiresAt: '2026-05-30T00:00:00Z' };
      const due = renewalDue(long, {}, 'uid-1', ttl) ?? 0;
      expect(due).toBeLessThanOrEqual(at(long.expiresAt) - 30 * 24 * H);
      // a key without issuedAt and no keyTTL any more: a day ahead
      const bare = { ...key, expiresAt: '2026-03-31T00:00:00Z' };
      const d2 = renewalDue(bare, {}, 'uid-1', resolved()) ?? 0;
      expect(d2).toBeLessThanOrEqual(end - 24 * H);
      expect(d2).toBeGreaterThan(end - 24 * H - 2.4 * H);
    });

    it.each([
      ['a key that ends with the member', { expiresAt: '2026-03-31T00:00:00Z' }, undefined],
      ['a key that ends before the member', { expiresAt: '2026-04-30T00:00:00Z' }, 'Renewal'],
      ['a member without an end', {}, 'Renewal'],
    ])('%s', (_what, spec, want) => {
      expect(nextRotation({ status: { key: ttlKey }, spec, uid: 'uid-1' }, ttl)?.trigger).toBe(want);
    });

    it('a key without an expiry is never renewed; the schedule goes first when it is earlier', () => {
      expect(renewalDue(key, {}, 'uid-1', ttl)).toBeUndefined();
      const both = resolved({ keyTTL: '720h', rotation: { every: '240h' } });
      expect(nextRotation({ status: { key: ttlKey }, spec: {}, uid: 'uid-1' }, both)?.trigger).toBe('Scheduled');
      const lateSchedule = resolved({ keyTTL: '720h', rotation: { every: '700h' } });
      expect(nextRotation({ status: { key: ttlKey }, spec: {}, uid: 'uid-1' }, lateSchedule)?.trigger).toBe('Renewal');
    });

    it('asks for the renewal once due, never before; close to the expiry it takes no slot', () => {
      const m = (now: number) => rotationAsked({ ...member({ key: ttlKey }), spec: { policy: 'p', suspended: false } }, ttl, now);
      const due = renewalDue(ttlKey, {}, 'uid-1', ttl) ?? 0;
      expect(m(due - 1)).toBeUndefined();
      expect(m(due)).toEqual({ trigger: 'Renewal' });
      // the default overlap (10m) and an hour to spare
      expect(m(end - 71 * 60_000)).toEqual({ trigger: 'Renewal' });
      expect(m(end - 69 * 60_000)).toEqual({ trigger: 'Renewal', urgent: true });
    });
  });

  it.each([
    ['an annotation value not yet acted on', { key, rotation: { count: 0 } }, { 'teamkeys.dev/rotate': 'x' }, at('2026-03-02T00:00:00Z'), { trigger: 'Requested', request: 'x' }],
    ['the same value again', { key, rotation: { count: 1, lastRequest: 'x' } }, { 'teamkeys.dev/rotate': 'x' }, at('2026-03-02T00:00:00Z'), undefined],
    ['the schedule, once due', { key }, undefined, at('2026-03-11T00:00:00Z'), { trigger: 'Scheduled' }],
    ['the schedule, not yet due', { key }, undefined, at('2026-03-09T00:00:00Z'), undefined],
    ['nothing while a rotation drains', { key, previousKeys: [prev()] }, { 'teamkeys.dev/rotate': 'y' }, at('2026-03-11T00:00:00Z'), undefined],
    ['nothing while a create is in flight', { key, pendingKey: { name: 'k', since: '2026-03-01T00:00:00Z' } }, { 'teamkeys.dev/rotate': 'y' }, at('2026-03-11T00:00:00Z'), undefined],
    ['nothing for a disabled key', { key: { ...key, disabled: true } }, { 'teamkeys.dev/rotate': 'y' }, at('2026-03-11T00:00:00Z'), undefined],
    ['nothing without a key', {}, { 'teamkeys.dev/rotate': 'y' }, at('2026-03-11T00:00:00Z'), undefined],
  ] as [string, TeamMemberStatus, Record<string, string> | undefined, number, unknown][])('asks: %s', (_what, status, annotations, now, want) => {
    expect(rotationAsked(member(status, annotations), policy, now)).toEqual(want);
  });
});

describe('what the keys of a rotation may spend', () => {
  it('a draining key may spend its spend at rotation plus the allowance in that window, the allowance after a reset', () => {
    expect(drainLimit(prev(), 'w1')).toBe(3.5);
    expect(drainLimit(prev(), 'w2')).toBe(0.5);
    expect(drainReserve([prev(), prev({ hash: 'done', state: 'Disabled' })], 'w1')).toBe(3.5);
    expect(drainReserve(undefined, 'w1')).toBe(0);
    // right after a reset the draining key may have spent more than its new allowance before its limit was lowered
    expect(drainReserve([prev()], 'w2', () => 2)).toBe(2);
    expect(drainReserve([prev()], 'w2', () => 0.1)).toBe(0.5);
  });
  it('the allowance is a share of the limit, out of what is left of it, none without a cap', () => {
    expect(overlapAllowance(10, policy, 9)).toBe(0.5);
    expect(overlapAllowance(10, policy, 0.2)).toBe(0.2);
    expect(overlapAllowance(10, policy, -0.1), 'rotating an exhausted key gives nothing more').toBe(0);
    expect(overlapAllowance(undefined, policy, 0)).toBe(0);
  });
  it('a draining key deleted outside is carried at its whole reserve, in the window it rotated in', () => {
    expect(retiredFromReserve(prev())).toMatchObject({ hash: 'old', retiredAt: '2026-03-10T00:00:00Z', usage: { monthly: 3.5, total: 3.5 } });
  });
  it('keeps a bounded history, dropping deleted keys first', () => {
    let list: PreviousKey[] = [];
    for (let i = 0; i < 7; i++) list = withPrevious(list, prev({ hash: `k${i}`, state: i === 1 ? 'Disabled' : 'Deleted' }), 5);
    expect(list.map((p) => p.hash)).toEqual(['k1', 'k3', 'k4', 'k5', 'k6']);
  });
  it.each([
    [1, ['k3']],
    [2, ['k1', 'k3']],
    [3, ['k0', 'k1', 'k3']],
    [99, ['k0', 'k1', 'k2', 'k3']],
  ])('keeps the history limit the policy sets (%i), never dropping the key just added', (limit, want) => {
    // a leaked key enters as Deleted: still the newest, so it stays
    expect(withPrevious([prev({ hash: 'old', state: 'Disabled' })], prev({ hash: 'leaked', state: 'Deleted' }), 1).map((p) => p.hash)).toEqual(['leaked']);
    let list: PreviousKey[] = [];
    for (let i = 0; i < 4; i++) list = withPrevious(list, prev({ hash: `k${i}`, state: i === 3 ? 'Draining' : i === 2 ? 'Deleted' : 'Disabled' }), limit);
    expect(list.map((p) => p.hash)).toEqual(want);
  });
  it('wakes for the next retirement or deletion', () => {
    expect(nextPreviousKeyStep([prev(), prev({ state: 'Disabled', deleteAt: '2026-03-10T00:30:00Z' }), prev({ state: 'Deleted' })])).toBe(at('2026-03-10T00:30:00Z'));
    expect(nextPreviousKeyStep([])).toBeUndefined();
  });
});
