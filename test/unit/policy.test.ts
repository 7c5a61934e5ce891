import { describe, expect, it } from 'vitest';
import type { TeamMember } from '../../src/api/schema.ts';
import { inUseMessage, policyStatus } from '../../src/controller/policy/reconcile.ts';

const member = (name: string, policy: string, ready: boolean, windowUSD = 0, deleting = false): TeamMember => ({
  apiVersion: 'teamkeys.dev/v1alpha1', kind: 'TeamMember',
  metadata: { name, namespace: 'team', uid: name, ...(deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
  spec: { policy, suspended: false },
  status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'False', reason: 'x', message: 'x', lastTransitionTime: 't' }], usage: { windowUSD, dailyUSD: 0, weeklyUSD: 0, monthlyUSD: 0, byokUSD: 0, lifetimeUSD: 0, observedAt: 't' } },
});

describe('inUseMessage', () => {
  it.each([
    [['team/a'], 'deletion waits for 1 TeamMember that use this policy: team/a; delete them or move them to another policy'],
    [['b/y', 'a/x'], 'deletion waits for 2 TeamMembers that use this policy: a/x, b/y; delete them or move them to another policy'],
    [['n/7', 'n/1', 'n/2', 'n/3', 'n/4', 'n/5', 'n/6'], 'deletion waits for 7 TeamMembers that use this policy: n/1, n/2, n/3, n/4, n/5 and 2 more; delete them or move them to another policy'],
  ])('%j', (users, want) => {
    expect(inUseMessage(users)).toBe(want);
  });
});

describe('policyStatus', () => {
  const members = [member('a', 'pro', true, 1.25), member('b', 'pro', false, 2), member('c', 'free', true, 9), member('d', 'pro', true, 5, true)];
  it('counts live members of this policy, ready ones and their window spend', () => {
    const s = policyStatus('pro', 3, {}, undefined, members, undefined, 'now');
    expect(s).toMatchObject({ observedGeneration: 3, members: 2, readyMembers: 1, spendThisWindowUSD: 3.25 });
    expect(s.conditions?.[0]).toMatchObject({ type: 'Ready', status: 'True', reason: 'Accepted', message: '1 of 2 members ready' });
  });
  it('says which members hold a deletion, terminating ones included', () => {
    const s = policyStatus('pro', 3, {}, undefined, members, { users: ['team/a', 'team/b', 'team/d'] }, 'now');
    expect(s.conditions?.[0]).toMatchObject({ status: 'False', reason: 'InUse', message: expect.stringContaining('3 TeamMembers that use this policy: team/a, team/b, team/d') });
  });
  it('reports an invalid spec', () => {
    expect(policyStatus('pro', 1, {}, 'spec.budget: bad', [], undefined, 'now').conditions?.[0]).toMatchObject({ reason: 'InvalidSpec', message: 'spec.budget: bad' });
  });
});
