/**
 * What a policy event queues (controller/triggers.ts): its members only when something they wait for changed; the
 * policy itself at once for its finalizer, within the window for a status write.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { POLICY_FINALIZER, type TeamMember } from '../../src/api/schema.ts';
import type { Caches } from '../../src/controller/caches.ts';
import type { WorkQueue } from '../../src/controller/queue.ts';
import { wireTriggers } from '../../src/controller/triggers.ts';
import { memberItem, policyItem, workItemKey, type WorkItem } from '../../src/controller/workitem.ts';

type Handler = (o: KubernetesObject) => void;

/** An informer that only hands out its handlers: the test plays the events. */
function events() {
  const on = new Map<string, Handler[]>();
  return {
    on: (verb: string, cb: Handler) => on.set(verb, [...(on.get(verb) ?? []), cb]),
    emit: (verb: string, o: KubernetesObject) => on.get(verb)?.forEach((cb) => cb(o)),
  };
}

function wired(members: TeamMember[]) {
  const policies = events();
  const none = events();
  const caches = { members: none, policies, namespaces: none, secrets: none, workloads: undefined, allMembers: () => members, workloadsUsing: () => [] };
  const queued: { how: 'now' | 'throttled' | 'dropped'; key: string }[] = [];
  const queue = {
    add: (i: WorkItem) => queued.push({ how: 'now', key: workItemKey(i) }),
    addThrottled: (i: WorkItem) => queued.push({ how: 'throttled', key: workItemKey(i) }),
    drop: (i: WorkItem) => queued.push({ how: 'dropped', key: workItemKey(i) }),
    addAfter: () => undefined,
  };
  // the fakes carry only what wireTriggers reaches for
  wireTriggers(caches as unknown as Caches, queue as unknown as WorkQueue<WorkItem>, () => 'op');
  return { policies, queued };
}

const member = (name: string, policy: string) => ({ apiVersion: 'teamkeys.dev/v1alpha1', kind: 'TeamMember', metadata: { namespace: 'team', name }, spec: { policy } }) as unknown as TeamMember;
const policy = (generation: number, finalizers: string[] = [], status: object = {}) => ({ metadata: { name: 'gold', generation, finalizers }, spec: {}, status }) as KubernetesObject;

describe('policy events', () => {
  const fleet = [member('ana', 'gold'), member('bo', 'gold'), member('cy', 'silver')];
  const [ANA, BO] = fleet.map((m) => workItemKey(memberItem(m)));
  const GOLD = workItemKey(policyItem('gold'));

  it('a new generation queues the policy and every member naming it', () => {
    const { policies, queued } = wired(fleet);
    policies.emit('add', policy(1));
    queued.length = 0;
    policies.emit('update', policy(2));
    expect(queued).toEqual([GOLD, ANA, BO].map((key) => ({ how: 'now', key })));
  });

  it('its finalizer added or let go queues the policy at once and no member (members never read it)', () => {
    const { policies, queued } = wired(fleet);
    policies.emit('add', policy(1));
    queued.length = 0;
    policies.emit('update', policy(1, [POLICY_FINALIZER]));
    policies.emit('update', policy(1, []));
    expect(queued).toEqual([{ how: 'now', key: GOLD }, { how: 'now', key: GOLD }]);
  });

  it('a status write queues the policy within the window, and no member', () => {
    const { policies, queued } = wired(fleet);
    policies.emit('add', policy(1, [POLICY_FINALIZER]));
    queued.length = 0;
    policies.emit('update', policy(1, [POLICY_FINALIZER], { readyMembers: 2 }));
    expect(queued).toEqual([{ how: 'throttled', key: GOLD }]);
  });
});
