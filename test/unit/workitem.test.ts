import { describe, expect, it } from 'vitest';
import { STRAY_GUARDRAILS, memberItem, memberItemOf, parseWorkItem, policyItem, resourceOf, workItemKey, workloadItem, type WorkItem } from '../../src/controller/workitem.ts';

describe('work items', () => {
  const items: [WorkItem, string][] = [
    [{ kind: 'member', namespace: 'team-a', name: 'ada' }, 'tm/team-a/ada'],
    [{ kind: 'policy', name: 'gold' }, 'kp/gold'],
    [{ kind: 'workload', workload: 'StatefulSet', namespace: 'team-a', name: 'db' }, 'wl/StatefulSet/team-a/db'],
    [STRAY_GUARDRAILS, 'gr/stray'],
  ];

  it.each(items)('%o is keyed as before (logs name items by their keys) and read back', (item, key) => {
    expect(workItemKey(item)).toBe(key);
    expect(parseWorkItem(key)).toEqual(item);
  });

  it('builds items from objects as the informers see them', () => {
    expect(memberItem({ metadata: { namespace: 'n', name: 'm' } })).toEqual({ kind: 'member', namespace: 'n', name: 'm' });
    expect(memberItem({})).toEqual({ kind: 'member', namespace: '', name: '' });
    expect(workloadItem({ kind: 'Deployment', obj: { metadata: { namespace: 'n', name: 'web' } } })).toEqual({ kind: 'workload', workload: 'Deployment', namespace: 'n', name: 'web' });
    expect(memberItemOf('n/m')).toEqual(memberItem({ metadata: { namespace: 'n', name: 'm' } }));
  });

  it('labels reconciles by resource as the metrics always did', () => {
    expect(items.map(([item]) => resourceOf(item))).toEqual(['teammember', 'keypolicy', 'workload', 'keypolicy']);
    expect(resourceOf(policyItem('p'))).toBe('keypolicy');
  });

  it('refuses a key it never made', () => {
    expect(() => parseWorkItem('xx/y')).toThrow(/not a work item key/);
    expect(() => parseWorkItem('wl/Pod/n/p')).toThrow(/not a work item key/);
  });
});
