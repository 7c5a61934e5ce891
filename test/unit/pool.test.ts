/** A policy's pooled budget: the budget calls in an order OpenRouter accepts, what the status shows, the owned slug. */
import { describe, expect, it } from 'vitest';
import { ownedWorkspaceSlug } from '../../src/api/policy.ts';
import type { TeamMember } from '../../src/api/schema.ts';
import { budgetSteps } from '../../src/controller/policy/pool.ts';
import { poolStatus } from '../../src/controller/policy/poolstatus.ts';
import { resolved } from '../kit/resolved.ts';

/** OpenRouter's rule, checked after every step: narrower windows lower. */
function valid(limits: Record<string, number>): boolean {
  const order = ['daily', 'weekly', 'monthly', 'never'].filter((w) => limits[w] !== undefined).map((w) => limits[w] ?? 0);
  return order.every((v, i) => i === 0 || (order[i - 1] ?? 0) < v);
}

describe('budget steps', () => {
  it.each([
    ['nothing set yet', {}, { monthly: 20, daily: 2 }],
    ['every window up', { daily: { limitUSD: 1, includeByok: false }, monthly: { limitUSD: 5, includeByok: false } }, { daily: 8, monthly: 50 }],
    ['every window down', { daily: { limitUSD: 8, includeByok: false }, monthly: { limitUSD: 50, includeByok: false } }, { daily: 1, monthly: 5 }],
    ['a swap across windows', { daily: { limitUSD: 4, includeByok: false }, weekly: { limitUSD: 5, includeByok: false } }, { daily: 6, weekly: 40, lifetime: 100 }],
    ['a window taken away', { daily: { limitUSD: 4, includeByok: false }, never: { limitUSD: 5, includeByok: false } }, { lifetime: 3 }],
  ] as const)('%s: every step keeps narrower windows lower, and ends where the spec says', (_what, have, want) => {
    const now: Record<string, number> = Object.fromEntries(Object.entries(have).map(([w, b]) => [w, b.limitUSD]));
    for (const s of budgetSteps(have, want, false)) {
      const key = s.window === 'lifetime' ? 'never' : s.window;
      if (s.limitUSD === undefined) delete now[key];
      else now[key] = s.limitUSD;
      expect(valid(now), JSON.stringify(now)).toBe(true);
    }
    expect(now).toEqual(Object.fromEntries(Object.entries(want).map(([w, v]) => [w === 'lifetime' ? 'never' : w, v])));
  });

  it('writes nothing when the budgets are as wanted, one window per window when only includeByok changed', () => {
    const have = { monthly: { limitUSD: 20, includeByok: false }, daily: { limitUSD: 2, includeByok: false } };
    expect(budgetSteps(have, { monthly: 20, daily: 2 }, false)).toEqual([]);
    expect(budgetSteps(have, { monthly: 20, daily: 2 }, true).map((s) => s.window).toSorted()).toEqual(['daily', 'monthly']);
  });
});

describe('the pool in status', () => {
  const member = (name: string, usage: { daily: number; weekly: number; monthly: number; lifetime: number; byok?: number }, limit?: { limitUSD: number; remainingUSD: number }): TeamMember => ({
    apiVersion: 'teamkeys.dev/v1alpha1', kind: 'TeamMember', metadata: { name, namespace: 'ns', uid: name }, spec: { policy: 'p', suspended: false },
    status: {
      usage: { windowUSD: usage.monthly, dailyUSD: usage.daily, weeklyUSD: usage.weekly, monthlyUSD: usage.monthly, byokUSD: usage.byok ?? 0, lifetimeUSD: usage.lifetime, observedAt: '2027-03-10T12:00:00Z' },
      ...(limit ? { budget: { ...limit, reset: 'monthly' as const } } : {}),
    },
  });

  it('sums the members per window, shows the tightest, and says the pool refuses first when the members have more room', () => {
    const p = resolved({ pool: { daily: 5, monthly: 20 } });
    const out = poolStatus(p, [member('a', { daily: 1, weekly: 3, monthly: 9, lifetime: 9 }, { limitUSD: 10, remainingUSD: 1 }), member('b', { daily: 3.5, weekly: 4, monthly: 8, lifetime: 12 }, { limitUSD: 10, remainingUSD: 2 })]);
    expect(out?.status.windows).toEqual([
      { window: 'daily', limitUSD: 5, spendUSD: 4.5, remainingUSD: 0.5 },
      { window: 'monthly', limitUSD: 20, spendUSD: 17, remainingUSD: 3 },
    ]);
    expect(out?.status.shown).toBe('4.50/5 daily');
    expect(out?.status.refusesFirst).toBe('Pool');
    expect(out?.condition).toMatchObject({ type: 'PoolBudget', status: 'False', reason: 'NearLimit' });
  });

  it('says the members refuse first when their own limits leave less than the pool, and Exhausted at the cap', () => {
    const p = resolved({ pool: { monthly: 20 } });
    const room = poolStatus(p, [member('a', { daily: 0, weekly: 0, monthly: 2, lifetime: 2 }, { limitUSD: 3, remainingUSD: 1 })]);
    expect(room?.status.refusesFirst).toBe('Members');
    expect(room?.condition.reason).toBe('WithinBudget');
    const spent = poolStatus(p, [member('a', { daily: 0, weekly: 0, monthly: 21, lifetime: 21 })]);
    expect(spent?.status.windows[0]?.remainingUSD).toBe(0);
    expect(spent?.status.refusesFirst, 'a member without a cap has room without bound').toBe('Pool');
    expect(spent?.condition).toMatchObject({ status: 'True', reason: 'Exhausted' });
  });

  it('counts BYOK in the lifetime window only when the pool says so; none without a pool', () => {
    const m = member('a', { daily: 0, weekly: 0, monthly: 0, lifetime: 10, byok: 4 });
    expect(poolStatus(resolved({ pool: { lifetime: 100 } }), [m])?.status.windows[0]?.spendUSD).toBe(6);
    expect(poolStatus(resolved({ pool: { lifetime: 100, includeByok: true } }), [m])?.status.windows[0]?.spendUSD).toBe(10);
    expect(poolStatus(resolved({}), [m])).toBeUndefined();
  });
});

describe('the owned workspace slug', () => {
  it.each([
    ['ml-team', 'a1b2c3d4-0000-4000-8000-000000000000', 'tk-ml-team-a1b2c3d4'],
    ['eng.gold--tier', 'FFEE-1', 'tk-eng-gold-tier-ffee1'],
    ['x'.repeat(63), 'abcdef0123', `tk-${'x'.repeat(36)}-abcdef01`],
  ])('%s', (name, uid, want) => {
    const slug = ownedWorkspaceSlug(name, uid);
    expect(slug).toBe(want);
    expect(slug).toMatch(/^[a-z0-9]+(?:-[a-z0-9]+)*$/);
    expect(slug.length).toBeLessThanOrEqual(50);
  });
});
