/** What the fleet's statuses become as metric samples: the pieces the alerts of deploy/monitoring lean on. */
import { describe, expect, it } from 'vitest';
import type { KeyPolicy, KeyPolicySpec, TeamMember, TeamMemberStatus } from '../../src/api/schema.ts';
import { fleet } from '../../src/metrics/fleet.ts';

const policy = (name: string, spec: Partial<KeyPolicySpec> = {}): KeyPolicy => ({
  apiVersion: 'teamkeys.dev/v1alpha1', kind: 'KeyPolicy', metadata: { name, uid: name }, spec: { deletionPolicy: 'Delete', onDisabledOutside: 'Replace', ...spec },
});
const member = (name: string, policyName: string, status: TeamMemberStatus, expiresAt?: string): TeamMember => ({
  apiVersion: 'teamkeys.dev/v1alpha1', kind: 'TeamMember', metadata: { name, namespace: 'ns', uid: name },
  spec: { policy: policyName, suspended: false, ...(expiresAt ? { expiresAt } : {}) }, status,
});
const usage = (windowUSD: number) => ({ windowUSD, dailyUSD: windowUSD, weeklyUSD: windowUSD, monthlyUSD: windowUSD, byokUSD: 0, lifetimeUSD: windowUSD, observedAt: '2027-03-10T12:00:00Z' });
const key = (expiresAt: string) => ({ hash: 'h', name: 'n', label: 'masked', createdAt: '2027-03-01T00:00:00Z', expiresAt, disabled: false, reset: 'monthly' as const, includeByok: false });

describe('fleet', () => {
  it("exports each policy's warn threshold (default 80) and counts members at it by that threshold", () => {
    const f = fleet(
      [member('a', 'low', { usage: usage(6), budget: { limitUSD: 10, reset: 'monthly' } }), member('b', 'std', { usage: usage(6), budget: { limitUSD: 10, reset: 'monthly' } })],
      [policy('low', { usage: { syncInterval: '5m', warnAtPercent: 50 } }), policy('std')],
      Date.parse('2027-03-10T12:00:00Z'),
    );
    expect(f.policy.warnPercent).toEqual([{ labels: { policy: 'low' }, value: 50 }, { labels: { policy: 'std' }, value: 80 }]);
    expect(f.policy.budgetState.filter((s) => s.labels['state'] === 'warn')).toEqual([{ labels: { policy: 'low', state: 'warn' }, value: 1 }, { labels: { policy: 'std', state: 'warn' }, value: 0 }]);
  });

  it("exports a member's own end next to its key's, only when it has one", () => {
    const f = fleet(
      [member('ws', 'p', { key: key('2027-03-12T00:00:00Z') }, '2027-03-12T00:00:00Z'), member('ttl', 'p', { key: key('2027-03-13T00:00:00Z') })],
      [policy('p')],
      Date.parse('2027-03-10T12:00:00Z'),
    );
    expect(f.member.memberExpiry).toEqual([{ labels: { namespace: 'ns', member: 'ws', policy: 'p' }, value: Date.parse('2027-03-12T00:00:00Z') / 1000 }]);
    expect(f.member.keyExpiry.map((s) => s.labels['member'])).toEqual(['ws', 'ttl']);
  });

  it('counts a working key as overdue once its rotation is over an hour late on the operator clock, and a policy only for keys expiring within 7 days before their member', () => {
    const now = Date.parse('2027-03-10T12:00:00Z');
    const withRotation = (expiresAt: string, nextRotationAt: string, disabled = false): TeamMemberStatus => ({ key: { ...key(expiresAt), disabled }, rotation: { count: 0, nextRotationAt } });
    const f = fleet(
      [
        member('late', 'p', withRotation('2027-03-12T00:00:00Z', '2027-03-10T10:59:00Z')),
        member('just', 'p', withRotation('2027-03-12T00:00:00Z', '2027-03-10T11:01:00Z')),
        member('far', 'p', withRotation('2027-03-30T00:00:00Z', '2027-03-01T00:00:00Z')),
        member('off', 'p', withRotation('2027-03-12T00:00:00Z', '2027-03-01T00:00:00Z', true)),
        member('ends', 'p', withRotation('2027-03-12T00:00:00Z', '2027-03-01T00:00:00Z'), '2027-03-12T00:00:00Z'),
      ],
      [policy('p')],
      now,
    );
    expect(f.member.renewalOverdue.map((s) => [s.labels['member'], s.value])).toEqual([['late', 1], ['just', 0], ['far', 1], ['ends', 1]]);
    expect(f.policy.renewalsOverdue).toEqual([{ labels: { policy: 'p' }, value: 1 }]);
  });
});
