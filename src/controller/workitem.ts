/**
 * What the work queue holds: one typed item per thing to reconcile. The queue dedupes and backs off by a string
 * key; this module alone spells items as keys and reads them back (the keys also name the item in logs, as before).
 */
import type { RestartTarget } from '../kube/cluster.ts';

export type WorkloadKind = RestartTarget['kind'];

export type WorkItem =
  | { kind: 'member'; namespace: string; name: string }
  | { kind: 'policy'; name: string }
  | { kind: 'workload'; workload: WorkloadKind; namespace: string; name: string }
  /** this operator's guardrails whose policy is gone (after each listing): policy/guardrail.ts deleteStrayGuardrails */
  | { kind: 'strayGuardrails' };

export const STRAY_GUARDRAILS: WorkItem = { kind: 'strayGuardrails' };

/** How the metrics label an item's reconciles. */
export type Resource = 'teammember' | 'keypolicy' | 'workload';

export function resourceOf(item: WorkItem): Resource {
  switch (item.kind) {
    case 'member':
      return 'teammember';
    case 'policy':
    case 'strayGuardrails':
      return 'keypolicy';
    case 'workload':
      return 'workload';
  }
}

export function memberItem(o: { metadata?: { namespace?: string | undefined; name?: string | undefined } | undefined }): WorkItem {
  return { kind: 'member', namespace: o.metadata?.namespace ?? '', name: o.metadata?.name ?? '' };
}

/** A member by its id, namespace/name (MemberView.id, RotationSlots): a namespace never holds a slash. */
export function memberItemOf(id: string): WorkItem {
  const slash = id.indexOf('/');
  return slash < 0 ? { kind: 'member', namespace: '', name: id } : { kind: 'member', namespace: id.slice(0, slash), name: id.slice(slash + 1) };
}

export function policyItem(name: string): WorkItem {
  return { kind: 'policy', name };
}

export function workloadItem(w: RestartTarget): WorkItem {
  return { kind: 'workload', workload: w.kind, namespace: w.obj.metadata?.namespace ?? '', name: w.obj.metadata?.name ?? '' };
}

const MEMBER = 'tm/';
const POLICY = 'kp/';
const WORKLOAD = 'wl/';
const STRAY = 'gr/stray';
const WORKLOAD_KINDS: readonly string[] = ['Deployment', 'StatefulSet', 'DaemonSet', 'Rollout'] satisfies WorkloadKind[];

/** The item's queue key: equal items, equal keys. */
export function workItemKey(item: WorkItem): string {
  switch (item.kind) {
    case 'member':
      return `${MEMBER}${item.namespace}/${item.name}`;
    case 'policy':
      return POLICY + item.name;
    case 'workload':
      return `${WORKLOAD}${item.workload}/${item.namespace}/${item.name}`;
    case 'strayGuardrails':
      return STRAY;
  }
}

function isWorkloadKind(s: string | undefined): s is WorkloadKind {
  return s !== undefined && WORKLOAD_KINDS.includes(s);
}

/** The item a key spells (object names hold no slash); throws on a key workItemKey never made. */
export function parseWorkItem(key: string): WorkItem {
  if (key === STRAY) return STRAY_GUARDRAILS;
  if (key.startsWith(POLICY)) return policyItem(key.slice(POLICY.length));
  if (key.startsWith(MEMBER)) return memberItemOf(key.slice(MEMBER.length));
  if (key.startsWith(WORKLOAD)) {
    const [workload, namespace, name] = key.slice(WORKLOAD.length).split('/');
    if (isWorkloadKind(workload) && namespace !== undefined && name !== undefined) return { kind: 'workload', workload, namespace, name };
  }
  throw new Error(`not a work item key: ${key}`);
}

/** The queue's codec for work items. */
export const workItems = { encode: workItemKey, decode: parseWorkItem };
