/**
 * What wakes which reconcile. Informer callbacks only enqueue work items (workitem.ts); workers read the latest
 * object from the cache.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { z } from 'zod';
import { policyNameOf } from '../api/objects.ts';
import { ANNOTATION_REACTIVATE, ANNOTATION_ROTATE, FINALIZER, LABEL_MEMBER, POLICY_FINALIZER, memberSecretName } from '../api/schema.ts';
import type { Caches } from './caches.ts';
import type { WorkQueue } from './queue.ts';
import { secretsUsed } from './workloads.ts';
import type { KindedWorkload } from '../kube/cluster.ts';
import { STRAY_GUARDRAILS, memberItem, policyItem, workItemKey, workloadItem, type WorkItem } from './workitem.ts';
import { isPaused } from './pause.ts';

/**
 * A policy's status counts every member naming it, so each reconcile of it reads the fleet: member events (and
 * status writes) queue it at most once per window, a window that grows with the
 * fleet (0.1 ms a member, 1 s at 10,000 and beyond), so the reconciles of a burst cost about the same CPU a second
 * whatever its size. Its counts lag by up to a window; what members wait for (its guardrail, its workspace) is
 * queued at once.
 */
export function policyWindowMs(members: number): number {
  return Math.min(1_000, members / 10);
}

/** A key change waits this long before workloads are rolled: members rotated together roll a workload once. */
const RESTART_DEBOUNCE_MS = 2_000;

/** The Secret a member object names, read leniently. */
function secretNameOf(o: KubernetesObject & { spec?: unknown }): string {
  const spec = o.spec;
  const named = typeof spec === 'object' && spec !== null && 'secretName' in spec && typeof spec.secretName === 'string' ? spec.secretName : undefined;
  return memberSecretName(o.metadata?.name ?? '', named);
}

const Operators = z.object({ status: z.object({ operators: z.record(z.string(), z.unknown()) }) });
const Entry = z.object({ guardrail: z.object({ id: z.string() }) });

/**
 * The id of this operator's guardrail as the policy's status reports it, read leniently: its members wait for it
 * to exist. Its counts, and everything another operator serving the policy writes, wake no member.
 */
export function guardrailOf(o: KubernetesObject & { status?: unknown }, operator: string): string {
  const ops = Operators.safeParse(o);
  const entry = ops.success ? Entry.safeParse(ops.data.status.operators[operator]) : undefined;
  return entry?.success ? entry.data.guardrail.id : '';
}

const Workspaces = z.object({ status: z.object({ workspace: z.object({ id: z.string() }).optional(), formerWorkspaces: z.array(z.object({ id: z.string() })).optional() }) });

/** The workspaces the policy's status records (where keys go, and those left behind), read leniently: members act on a change. */
export function workspacesOf(o: KubernetesObject & { status?: unknown }): string {
  const w = Workspaces.safeParse(o);
  return w.success ? [w.data.status.workspace?.id ?? '', ...(w.data.status.formerWorkspaces ?? []).map((f) => f.id)].join(',') : '';
}

/** `operator`: this operator's id (controller/identity.ts), known once it has started. */
export function wireTriggers(caches: Caches, queue: WorkQueue<WorkItem>, operator: () => string): void {
  const { members, policies, namespaces, secrets } = caches;
  // each member as last seen: the policy it named (moving re-evaluates the one it left) and what a person last
  // asked of it (a new generation, a deletion, a rotation or reactivation request jumps the queue and any backoff: offboarding
  // never waits)
  const seen = new Map<string, { policy: string | undefined; generation: number | undefined; deleting: boolean; rotate: string | undefined; reactivate: string | undefined }>();
  const onMember = (o: KubernetesObject) => {
    const item = memberItem(o);
    const key = workItemKey(item);
    const now = { policy: policyNameOf(o), generation: o.metadata?.generation, deleting: o.metadata?.deletionTimestamp !== undefined, rotate: o.metadata?.annotations?.[ANNOTATION_ROTATE], reactivate: o.metadata?.annotations?.[ANNOTATION_REACTIVATE] };
    const before = seen.get(key);
    seen.set(key, now);
    queue.add(item, before !== undefined && (now.generation !== before.generation || (now.deleting && !before.deleting) || now.rotate !== before.rotate || now.reactivate !== before.reactivate));
    if (before?.policy !== undefined && before.policy !== now.policy) queue.addThrottled(policyItem(before.policy), policyWindowMs(seen.size));
    if (now.policy) queue.addThrottled(policyItem(now.policy), policyWindowMs(seen.size));
  };
  for (const verb of ['add', 'update', 'delete'] as const) members.on(verb, onMember);
  // a member's key may have changed: the workloads using its Secret look again, a little later
  members.on('update', (o) => {
    const ns = o.metadata?.namespace ?? '';
    const secret = secretNameOf(o);
    for (const w of caches.workloadsUsing(ns, secret)) queue.addAfter(workloadItem(w), RESTART_DEBOUNCE_MS);
  });
  // an opted-in workload appeared or progressed: record it, and let members waiting for its rollout look again
  const onWorkload = (w: KindedWorkload) => {
    queue.add(workloadItem(w));
    const ns = w.obj.metadata?.namespace ?? '';
    for (const secret of secretsUsed(w.obj)) {
      const m = caches.memberBySecret(ns, secret);
      if (m) queue.add(memberItem(m));
    }
  };
  const wl = caches.workloads;
  if (wl) {
    for (const verb of ['add', 'update'] as const) {
      wl.Deployment.on(verb, (obj) => onWorkload({ kind: 'Deployment', obj }));
      wl.StatefulSet.on(verb, (obj) => onWorkload({ kind: 'StatefulSet', obj }));
      wl.DaemonSet.on(verb, (obj) => onWorkload({ kind: 'DaemonSet', obj }));
    }
  }
  members.on('delete', (o) => seen.delete(workItemKey(memberItem(o))));
  // a policy change re-evaluates its members, and so does this operator's guardrail becoming ready or changing
  // (members wait for it), a pause set or lifted, and its workspace made or moved (members wait for it, or move);
  // its other status writes do not: at 10,000 members every one re-queued all of them, and with several operators
  // serving a policy each would wake the others' members. A namespace's labels decide which policies admit its
  // members.
  const policySeen = new Map<string, { generation: number | undefined; deleting: boolean; finalized: boolean; guardrail: string; paused: boolean; workspaces: string }>();
  const onPolicy = (verb: 'add' | 'update' | 'delete') => (o: KubernetesObject) => {
    const name = o.metadata?.name ?? '';
    const now = { generation: o.metadata?.generation, deleting: o.metadata?.deletionTimestamp !== undefined, finalized: o.metadata?.finalizers?.includes(POLICY_FINALIZER) === true, guardrail: guardrailOf(o, operator()), paused: isPaused(o), workspaces: workspacesOf(o) };
    const before = policySeen.get(name);
    if (verb === 'delete') policySeen.delete(name);
    else policySeen.set(name, now);
    const membersSame = verb === 'update' && before !== undefined && before.generation === now.generation && before.deleting === now.deleting && before.guardrail === now.guardrail && before.paused === now.paused && before.workspaces === now.workspaces;
    // its finalizer added or let go: only the policy acts on it (members never read it), at once
    if (membersSame && before.finalized !== now.finalized) {
      queue.add(policyItem(name));
      return;
    }
    // a status write changes none of these (its own, or another operator's serving the policy): looked at again
    // within the window, where a second pass may still settle what the first wrote
    if (membersSame) {
      queue.addThrottled(policyItem(name), policyWindowMs(seen.size));
      return;
    }
    queue.add(policyItem(name));
    if (verb === 'delete') queue.drop(policyItem(name));
    for (const m of caches.allMembers()) if (m.spec.policy === name) queue.add(memberItem(m));
  };
  for (const verb of ['add', 'update', 'delete'] as const) policies.on(verb, onPolicy(verb));
  for (const verb of ['add', 'update'] as const) {
    namespaces.on(verb, (ns) => {
      for (const o of members.list(ns.metadata?.name)) queue.add(memberItem(o));
    });
  }
  // a Secret edited or deleted by someone else: its member puts it back
  for (const verb of ['update', 'delete'] as const) {
    secrets.on(verb, (s) => {
      const member = s.metadata?.labels?.[LABEL_MEMBER];
      if (member) queue.add({ kind: 'member', namespace: s.metadata?.namespace ?? '', name: member });
    });
  }
}

/**
 * Everything again (after a sync, or the management key works again): offboarding that waited goes first, also
 * of members whose namespace this operator no longer manages (member/entry.ts decides which are its own).
 */
export function enqueueAll(caches: Caches, queue: WorkQueue<WorkItem>): void {
  for (const m of caches.allMembers()) queue.add(memberItem(m), m.metadata.deletionTimestamp !== undefined);
  for (const o of caches.members.list()) {
    if (o.metadata?.deletionTimestamp !== undefined && o.metadata.finalizers?.includes(FINALIZER) && !caches.manages(o.metadata.namespace)) queue.add(memberItem(o), true);
  }
  for (const p of caches.policies.list()) queue.add(policyItem(p.metadata?.name ?? ''));
  queue.add(STRAY_GUARDRAILS);
}
