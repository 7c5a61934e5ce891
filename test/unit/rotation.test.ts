import { describe, expect, it } from 'vitest';
import type { PreviousKey, TeamMember, TeamMemberStatus } from '../../src/api/schema.ts';
import { resolved } from '../kit/resolved.ts';
import { drainLimit, drainReserve, overlapAllowance, retiredFromReserve } from '../../src/controller/member/budget.ts';
import { nextPreviousKeyStep, rotationAsked, scheduledRotation, spreadOf, withPrevious } from '../../src/controller/member/rotation.ts';

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
    const due = scheduledRotation({ key }, 'uid-1', policy) ?? 0;
    const created = at(key.createdAt);
    expect(due).toBeLessThanOrEqual(created + 240 * 3_600_000);
    expect(due).toBeGreaterThan(created + 240 * 3_600_000 - 24 * 3_600_000);
    expect(scheduledRotation({ key }, 'uid-1', policy)).toBe(due);
    const spread = new Set(Array.from({ length: 1000 }, (_, i) => Math.floor(spreadOf(`member-${i}`) * 24)));
    expect(spread.size, '1,000 members land in every hour of the day').toBe(24);
    expect(scheduledRotation({ key }, 'uid-1', resolved())).toBeUndefined();
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
    for (let i = 0; i < 7; i++) list = withPrevious(list, prev({ hash: `k${i}`, state: i === 1 ? 'Disabled' : 'Deleted' }));
    expect(list.map((p) => p.hash)).toEqual(['k1', 'k3', 'k4', 'k5', 'k6']);
  });
  it('wakes for the next retirement or deletion', () => {
    expect(nextPreviousKeyStep([prev(), prev({ state: 'Disabled', deleteAt: '2026-03-10T00:30:00Z' }), prev({ state: 'Deleted' })])).toBe(at('2026-03-10T00:30:00Z'));
    expect(nextPreviousKeyStep([])).toBeUndefined();
  });
});
