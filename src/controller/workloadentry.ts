/** Which workload reconcile this operator runs: an opted-in workload it still sees, in a namespace it manages. */
import type { Cluster } from '../kube/cluster.ts';
import type { Caches } from './caches.ts';
import type { Recorder } from './events.ts';
import type { Result } from './failure.ts';
import { reconcileWorkload, type RestartDeps } from './restarts.ts';
import type { WorkloadKind } from './workitem.ts';

export class WorkloadEntry {
  private readonly caches: Caches;
  private readonly deps: RestartDeps;

  constructor(w: { caches: Caches; cluster: Cluster; recorder: Recorder }) {
    this.caches = w.caches;
    this.deps = { cluster: w.cluster, recorder: w.recorder, memberBySecret: (ns, secret) => w.caches.memberBySecret(ns, secret) };
  }

  async reconcile(kind: WorkloadKind, ns: string, name: string): Promise<Result> {
    const w = this.caches.workload(kind, ns, name);
    if (w && this.caches.manages(ns)) await reconcileWorkload(w, this.deps);
    return {};
  }
}
