/**
 * What wakes workload reconciles beyond triggers.ts: an opted-in Argo Rollout appearing or changing, or the key of a
 * member whose Secret it uses changing (a little later, so members rotated together restart it once); and any
 * workload going away (deleted, or its label removed), so that it leaves the restart line at once.
 */
import { memberSecretName } from '../api/schema.ts';
import type { Caches } from './caches.ts';
import type { WorkQueue } from './queue.ts';
import { workloadItem, type WorkItem } from './workitem.ts';

/** As triggers.ts waits before rolling workloads of apps/v1 after a key change. */
const RESTART_DEBOUNCE_MS = 2_000;

export function wireRestartTriggers(caches: Caches, queue: Pick<WorkQueue<WorkItem>, 'add' | 'addAfter'>): void {
  const { rollouts, workloads } = caches;
  if (!rollouts || !workloads) return;
  for (const verb of ['add', 'update', 'delete'] as const) rollouts.on(verb, (obj) => queue.add(workloadItem({ kind: 'Rollout', obj })));
  caches.members.on('update', (o) => {
    const m = caches.member(o);
    if (!m?.ok) return;
    for (const r of caches.rolloutsUsing(m.value.metadata.namespace ?? '', memberSecretName(m.value.metadata.name, m.value.spec.secretName))) queue.addAfter(workloadItem(r), RESTART_DEBOUNCE_MS);
  });
  workloads.Deployment.on('delete', (obj) => queue.add(workloadItem({ kind: 'Deployment', obj })));
  workloads.StatefulSet.on('delete', (obj) => queue.add(workloadItem({ kind: 'StatefulSet', obj })));
  workloads.DaemonSet.on('delete', (obj) => queue.add(workloadItem({ kind: 'DaemonSet', obj })));
}
