/**
 * What wakes which reconcile. Informer callbacks only enqueue keys (tm/<ns>/<name>, kp/<name>); workers read the
 * latest object from the cache.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { policyNameOf } from '../api/objects.ts';
import { ANNOTATION_ROTATE, LABEL_MEMBER } from '../api/schema.ts';
import type { Caches } from './caches.ts';
import type { WorkQueue } from './queue.ts';

export const MEMBER = 'tm/';
export const POLICY = 'kp/';

export function memberKey(o: { metadata?: { namespace?: string | undefined; name?: string | undefined } | undefined }): string {
  return `${MEMBER}${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
}

export function wireTriggers(caches: Caches, queue: WorkQueue): void {
  const { members, policies, namespaces, secrets } = caches;
  // each member as last seen: the policy it named (moving re-evaluates the one it left) and what a person last
  // asked of it (a new generation, a deletion or a rotation request jumps the queue and any backoff: offboarding
  // never waits)
  const seen = new Map<string, { policy: string | undefined; generation: number | undefined; deleting: boolean; rotate: string | undefined }>();
  const onMember = (o: KubernetesObject) => {
    const key = memberKey(o);
    const now = { policy: policyNameOf(o), generation: o.metadata?.generation, deleting: o.metadata?.deletionTimestamp !== undefined, rotate: o.metadata?.annotations?.[ANNOTATION_ROTATE] };
    const before = seen.get(key);
    seen.set(key, now);
    queue.add(key, before !== undefined && (now.generation !== before.generation || (now.deleting && !before.deleting) || now.rotate !== before.rotate));
    if (before?.policy !== undefined && before.policy !== now.policy) queue.add(POLICY + before.policy);
    if (now.policy) queue.add(POLICY + now.policy);
  };
  for (const verb of ['add', 'update', 'delete'] as const) members.on(verb, onMember);
  members.on('delete', (o) => seen.delete(memberKey(o)));
  // a policy change re-evaluates its members; a namespace's labels decide which policies admit its members
  const onPolicy = (o: KubernetesObject) => {
    const name = o.metadata?.name ?? '';
    queue.add(POLICY + name);
    for (const m of caches.allMembers()) if (m.spec.policy === name) queue.add(memberKey(m));
  };
  for (const verb of ['add', 'update', 'delete'] as const) policies.on(verb, onPolicy);
  for (const verb of ['add', 'update'] as const) {
    namespaces.on(verb, (ns) => {
      for (const o of members.list(ns.metadata?.name)) queue.add(memberKey(o));
    });
  }
  // a Secret edited or deleted by someone else: its member puts it back
  for (const verb of ['update', 'delete'] as const) {
    secrets.on(verb, (s) => {
      const member = s.metadata?.labels?.[LABEL_MEMBER];
      if (member) queue.add(`${MEMBER}${s.metadata?.namespace ?? ''}/${member}`);
    });
  }
}
