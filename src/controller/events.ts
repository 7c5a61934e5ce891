import type { Logger } from 'pino';
import { API_VERSION, type KeyPolicy, type TeamMember } from '../api/schema.ts';
import { ARGO_ROLLOUTS, type Cluster, type RestartTarget } from '../kube/cluster.ts';
import type { EventReason } from './reasons.ts';
import { errorMessage } from '../util/errors.ts';

/**
 * Events at transitions. Best effort: an Event that cannot be written is logged, never a reason to fail a
 * reconcile. Messages are written by the operator and never contain key strings.
 */
/** What an Event is about: a TeamMember or KeyPolicy (or the lenient view of one), or a core object. */
type Regarding =
  | (Pick<TeamMember | KeyPolicy, 'kind'> & { metadata: Pick<TeamMember['metadata'], 'name' | 'namespace' | 'uid'> })
  | { apiVersion: 'v1'; kind: 'Secret'; metadata: { name: string; namespace: string; uid: string } }
  | { apiVersion: 'apps/v1'; kind: 'Deployment' | 'StatefulSet' | 'DaemonSet'; metadata: { name: string; namespace: string; uid: string } }
  | { apiVersion: 'argoproj.io/v1alpha1'; kind: 'Rollout'; metadata: { name: string; namespace: string; uid: string } };

/** A workload the operator restarts, as an Event is about it. */
export function regardingWorkload(w: RestartTarget): Regarding {
  const { name = '', namespace = '', uid = '' } = w.obj.metadata ?? {};
  return w.kind === 'Rollout'
    ? { apiVersion: `${ARGO_ROLLOUTS.group}/${ARGO_ROLLOUTS.version}`, kind: 'Rollout', metadata: { name, namespace, uid } }
    : { apiVersion: 'apps/v1', kind: w.kind, metadata: { name, namespace, uid } };
}

export class Recorder {
  private readonly cluster: Cluster;
  private readonly log: Logger;

  constructor(cluster: Cluster, log: Logger) {
    this.cluster = cluster;
    this.log = log;
  }

  async emit(obj: Regarding, type: 'Normal' | 'Warning', reason: EventReason, message: string): Promise<void> {
    const ref = { apiVersion: 'apiVersion' in obj ? obj.apiVersion : API_VERSION, kind: obj.kind, name: obj.metadata.name, namespace: obj.metadata.namespace, uid: obj.metadata.uid };
    this.log.info({ object: `${obj.kind}/${obj.metadata.namespace ? `${obj.metadata.namespace}/` : ''}${obj.metadata.name}`, type, reason }, message);
    try {
      await this.cluster.event(ref, type, reason, message, reason);
    } catch (e) {
      this.log.warn({ reason, err: errorMessage(e) }, 'could not record event');
    }
  }

  normal(obj: Regarding, reason: EventReason, message: string): Promise<void> {
    return this.emit(obj, 'Normal', reason, message);
  }

  warn(obj: Regarding, reason: EventReason, message: string): Promise<void> {
    return this.emit(obj, 'Warning', reason, message);
  }
}
