import { describe, expect, it } from 'vitest';
import { computeStatus, type StatusInput } from '../../src/controller/member/status.ts';
import type { TeamMember } from '../../src/api/schema.ts';
import { aKey } from './keys.ts';

const member: TeamMember = { apiVersion: 'teamkeys.dev/v1alpha1', kind: 'TeamMember', metadata: { name: 'a', namespace: 'n', uid: 'u', generation: 3 }, spec: { policy: 'p', suspended: false } };
const key = (usage: number) => aKey('h', { limitUSD: 10, limitRemainingUSD: Math.max(0, 10 - usage), usage: { daily: usage, weekly: usage, monthly: usage, total: usage } });
const input = (over: Partial<StatusInput>): StatusInput => ({
  member, prev: {}, now: '2026-03-01T00:00:00.000Z', secretName: 'a-openrouter', key: undefined, pendingKey: undefined, keySeq: 1,
  observed: key(1), budget: { limitUSD: 10, reset: 'monthly', includeByok: false }, carried: undefined, warnAtPercent: 80,
  outcome: { ready: true, reason: 'KeyReady', message: 'ok' }, suspended: false, expired: false, ...over,
});

describe('a member without a key to read (its idle key deleted)', () => {
  // spend seen on Wednesday 2026-03-04 under a daily budget, then no key any more
  const seen = computeStatus(input({ now: '2026-03-04T10:00:00.000Z', observed: key(3), budget: { limitUSD: 10, reset: 'daily', includeByok: false } })).status;
  const keyless = (now: string, carried?: number) => computeStatus(input({ prev: seen, now, observed: undefined, budget: { limitUSD: 10, reset: 'daily', includeByok: false }, carried: carried === undefined ? undefined : { usd: carried, window: 'w' } })).status;
  it('keeps showing the spend of the window it is in', () => {
    expect(keyless('2026-03-04T20:00:00.000Z').usage).toEqual(seen.usage);
  });
  it('shows no spend from a day that has ended, and keeps the week and month it is still in', () => {
    expect(keyless('2026-03-05T00:30:00.000Z').usage).toMatchObject({ windowUSD: 0, dailyUSD: 0, weeklyUSD: 3, monthlyUSD: 3, observedAt: '2026-03-05T00:30:00.000Z' });
  });
  it('starts the new window at what replaced keys carried into it', () => {
    expect(keyless('2026-03-05T00:30:00.000Z', 0.5).usage?.windowUSD).toBe(0.5);
  });
  it('a new month zeroes every window; once rolled, nothing changes until the next turn (no write)', () => {
    const rolled = keyless('2026-04-01T00:30:00.000Z');
    expect(rolled.usage).toMatchObject({ windowUSD: 0, dailyUSD: 0, weeklyUSD: 0, monthlyUSD: 0, lifetimeUSD: 3 });
    const again = computeStatus(input({ prev: rolled, now: '2026-04-01T05:00:00.000Z', observed: undefined, budget: { limitUSD: 10, reset: 'daily', includeByok: false } })).status;
    expect(again).toEqual(rolled);
  });
});

describe('computeStatus', () => {
  it('is stable: the same inputs an hour later change nothing, not even timestamps', () => {
    const first = computeStatus(input({})).status;
    const again = computeStatus(input({ prev: first, now: '2026-03-01T01:00:00.000Z' })).status;
    expect(again).toEqual(first);
    expect(first.conditions?.every((c) => c.observedGeneration === 3)).toBe(true);
  });

  it('an idle pass hands back the status it read, the same object (no copy to compare, no write)', () => {
    const first = computeStatus(input({})).status;
    const read = { ...member, status: first };
    const idle = computeStatus(input({ member: read, prev: first, now: '2026-03-01T01:00:00.000Z' })).status;
    expect(idle).toBe(first);
    // a pass that changes something gets a new, checked status
    const moved = computeStatus(input({ member: read, prev: first, now: '2026-03-01T02:00:00.000Z', observed: key(2) })).status;
    expect(moved).not.toBe(first);
    expect(moved.usage?.windowUSD).toBe(2);
  });

  it('moves usage.observedAt only when spend moved', () => {
    const first = computeStatus(input({})).status;
    const later = computeStatus(input({ prev: first, now: '2026-03-01T02:00:00.000Z', observed: key(2) })).status;
    expect(later.usage).toMatchObject({ windowUSD: 2, observedAt: '2026-03-01T02:00:00.000Z' });
  });

  it('warns once when crossing the threshold and once at the limit', () => {
    const s0 = computeStatus(input({})).status;
    const warn = computeStatus(input({ prev: s0, observed: key(8.5) }));
    expect(warn.notes.map((n) => n.reason)).toEqual(['BudgetWarning']);
    const again = computeStatus(input({ prev: warn.status, observed: key(9) }));
    expect(again.notes).toEqual([]);
    const out = computeStatus(input({ prev: again.status, observed: key(10.2), now: '2026-03-01T05:00:00.000Z' }));
    expect(out.notes.map((n) => n.reason)).toEqual(['BudgetExhausted']);
    expect(out.status.conditions?.find((c) => c.type === 'BudgetExhausted')).toMatchObject({ status: 'True', reason: 'LimitReached', lastTransitionTime: '2026-03-01T05:00:00.000Z' });
    expect(out.status.budget).toMatchObject({ remainingUSD: 0 });
  });

  it('keeps lastTransitionTime while a condition keeps its status', () => {
    const s0 = computeStatus(input({ outcome: { ready: false, reason: 'PolicyNotFound', message: 'x' } })).status;
    const s1 = computeStatus(input({ prev: s0, now: '2026-03-02T00:00:00.000Z', outcome: { ready: false, reason: 'PolicyNotAllowed', message: 'y' } })).status;
    const ready = s1.conditions?.find((c) => c.type === 'Ready');
    expect(ready).toMatchObject({ reason: 'PolicyNotAllowed', lastTransitionTime: '2026-03-01T00:00:00.000Z' });
  });

  it('counts the spend of replaced keys in the window and in the budget', () => {
    const s = computeStatus(input({ observed: { ...key(1), limitUSD: 4, limitRemainingUSD: 3 }, carried: { usd: 6, window: '2026-03-01T00:00:00.000Z' } })).status;
    expect(s.usage?.windowUSD).toBe(7);
    expect(s.budget).toEqual({ limitUSD: 10, remainingUSD: 3, reset: 'monthly', carriedUSD: 6, carriedWindow: '2026-03-01T00:00:00.000Z' });
  });

  it.each([
    ['daily', 'day'], ['weekly', 'week'], ['monthly', 'month'], ['never', 'lifetime'],
  ] as const)('names a %s window in plain words when the budget is exhausted', (reset, word) => {
    const s = computeStatus(input({ observed: key(10.5), budget: { limitUSD: 10, reset, includeByok: false } })).status;
    expect(s.conditions?.find((c) => c.type === 'BudgetExhausted')?.message).toBe(`spent 10.5 of 10 USD this ${word} window`);
  });

  it('says whether the key is actually enabled when the member is not suspended', () => {
    const suspendedMessage = (observed: StatusInput['observed']) => computeStatus(input({ observed })).status.conditions?.find((c) => c.type === 'Suspended')?.message;
    expect(suspendedMessage(key(1))).toBe('the key is enabled');
    expect(suspendedMessage({ ...key(1), disabled: true })).toMatch(/spec.suspended is false, but the key is disabled/);
    expect(suspendedMessage(undefined)).toBe('spec.suspended is false');
  });
});
