/**
 * Which workload reconcile this operator runs: an opted-in workload (or Argo Rollout) it still sees, in a namespace
 * it manages; any other leaves the restart line.
 */
import type { Logger } from 'pino';
import type { Cluster } from '../kube/cluster.ts';
import type { Clock } from '../util/clock.ts';
import type { Caches } from './caches.ts';
import type { Result } from './failure.ts';
import type { WorkQueue } from './queue.ts';
import { DEFAULT_RESTART_BOUNDS, RestartLine, type RestartBounds } from './restartline.ts';
import { reconcileWorkload, type RestartDeps } from './restarts.ts';
import { parseWorkItem, workItemKey, type WorkItem, type WorkloadKind } from './workitem.ts';
import { regardingWorkload, type Recorder } from './events.ts';

export interface WorkloadWiring {
  caches: Caches;
  cluster: Cluster;
  queue: Pick<WorkQueue<WorkItem>, 'add'>;
  clock: Clock;
  log: Logger;
  recorder: Recorder;
  /**
   * the operator's restart line (operator.ts, --restarts-per-minute...); omitted (dispatch.ts entriesFor, which does
   * not know it): a line of this entry's own, at the default bounds
   */
  restarts?: RestartLine;
}

/** The restart line of an operator: it calls a workload by enqueueing it, and starts from the restarts recorded on the workloads. */
export function restartLineFor(w: Pick<WorkloadWiring, 'caches' | 'queue' | 'clock'>, bounds: RestartBounds): RestartLine {
  return new RestartLine({ bounds, clock: w.clock, recentRestarts: (ns) => w.caches.recentRestarts(ns), onCall: (id) => w.queue.add(parseWorkItem(id)) });
}

export class WorkloadEntry {
  private readonly caches: Caches;
  private readonly deps: RestartDeps;

  constructor(w: WorkloadWiring) {
    this.caches = w.caches;
    const line = w.restarts ?? restartLineFor(w, DEFAULT_RESTART_BOUNDS);
    this.deps = {
      cluster: w.cluster, event: (target, reason, message) => w.recorder.normal(regardingWorkload(target), reason, message), line, clock: w.clock,
      memberBySecret: (ns, secret) => w.caches.memberBySecret(ns, secret),
    };
  }

  async reconcile(kind: WorkloadKind, ns: string, name: string): Promise<Result> {
    const id = workItemKey({ kind: 'workload', workload: kind, namespace: ns, name });
    const w = this.caches.workload(kind, ns, name);
    if (w && this.caches.manages(ns)) await reconcileWorkload(w, id, this.deps);
    else this.deps.line.withdraw(id);
    return {};
  }
}
