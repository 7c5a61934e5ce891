import { describe, expect, it } from 'vitest';
import { matchesSelector } from '../../src/controller/selector.ts';

describe('label selectors', () => {
  const labels = { tier: 'pro', team: 'ml' };
  it.each([
    [undefined, true],
    [{}, true],
    [{ matchLabels: { tier: 'pro' } }, true],
    [{ matchLabels: { tier: 'free' } }, false],
    [{ matchExpressions: [{ key: 'tier', operator: 'In' as const, values: ['pro', 'enterprise'] }] }, true],
    [{ matchExpressions: [{ key: 'tier', operator: 'NotIn' as const, values: ['pro'] }] }, false],
    [{ matchExpressions: [{ key: 'team', operator: 'Exists' as const }] }, true],
    [{ matchExpressions: [{ key: 'team', operator: 'DoesNotExist' as const }] }, false],
  ])('%j matches: %s', (selector, want) => {
    expect(matchesSelector(selector, labels)).toBe(want);
  });
});
