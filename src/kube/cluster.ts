/**
 * The controller's one way to the Kubernetes API, the leader's Lease aside (kube/leader.ts): the informers (members,
 * policies, namespaces, the Secrets it manages, workloads that opted in to restarts, Argo Rollouts among them; each
 * lean and restarting, kube/listwatch.ts and kube/informer.ts), whether Argo Rollouts are served, patches of member
 * and policy statuses and finalizers (a member's status and any finalizers only at the resourceVersion read),
 * Secret reads and writes, workload patches, Events, and the uid of a namespace. It speaks plain JSON over
 * kube/http.ts (client-node's types describe the objects; its runtime stays out of the operator's process); a
 * failed call reaches its caller as a KubeError (kube/errors.ts).
 * Every write to a member, a policy, a Secret or a workload passes the leader's fence (fence(): once it says no, the
 * write throws Deposed); Events and the operator's own HMAC Secret are not fenced. Every write but that Secret is
 * counted in `writes` (the write metrics). A member write is remembered for a few seconds, so that a reconcile does
 * not decide on a cache still behind it (behindOwnWrite).
 */
import { randomBytes } from 'node:crypto';
import type {
  KubernetesObject, V1DaemonSet, V1Deployment, V1Namespace, V1PodTemplateSpec, V1Secret, V1StatefulSet,
} from '@kubernetes/client-node';
import { GROUP, VERSION } from '../api/schema.ts';
import type { Json } from '../util/json.ts';
import { KubeAccess, type KubeConfigLike } from './access.ts';
import { KubeError } from './errors.ts';
import { JSON_PATCH, KubeHttp, MERGE_PATCH } from './http.ts';
import { ResilientInformer, type ResilientInformerOptions } from './informer.ts';
import { ListWatch } from './listwatch.ts';
import { Deposed } from '../util/errors.ts';

/** A workload with its kind: list items carry none. */
export type KindedWorkload = { kind: 'Deployment'; obj: V1Deployment } | { kind: 'StatefulSet'; obj: V1StatefulSet } | { kind: 'DaemonSet'; obj: V1DaemonSet };

/** An Argo Rollout (argoproj.io/v1alpha1), as far as the operator reads and writes it. */
export interface ArgoRollout extends KubernetesObject {
  /** no template when it borrows a Deployment's (workloadRef): then only the teamkeys.dev/secrets annotation names its Secrets */
  spec?: { template?: V1PodTemplateSpec; restartAt?: string };
  status?: { restartedAt?: string };
}

/** What the operator may restart: a workload of apps/v1, or an Argo Rollout. */
export type RestartTarget = KindedWorkload | { kind: 'Rollout'; obj: ArgoRollout };

export const ARGO_ROLLOUTS = { group: 'argoproj.io', version: 'v1alpha1', plural: 'rollouts' } as const;

export interface WorkloadInformers {
  Deployment: ResilientInformer<V1Deployment>;
  StatefulSet: ResilientInformer<V1StatefulSet>;
  DaemonSet: ResilientInformer<V1DaemonSet>;
}

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string | undefined;
  uid: string;
}


/** how long a cache may lag our own write before a reconcile decides on it anyway (a watch event lost in a restart) */
const OWN_WRITE_WAIT_MS = 10_000;
const MEMBERS = `/apis/${GROUP}/${VERSION}/namespaces`;
const POLICIES = `/apis/${GROUP}/${VERSION}/keypolicies`;
const WORKLOAD_PLURAL = { Deployment: 'deployments', StatefulSet: 'statefulsets', DaemonSet: 'daemonsets' } as const;
const member = (namespace: string, name: string) => `${MEMBERS}/${namespace}/teammembers/${name}`;
const secrets = (namespace: string) => `/api/v1/namespaces/${namespace}/secrets`;

/** A microsecond timestamp (metav1.MicroTime), as Events and Leases carry them. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '000Z');
}

export class Cluster {
  readonly access: KubeAccess;
  readonly http: KubeHttp;
  private readonly instance: string;

  /** Writes to members, policies and member Secrets happen only while this is true (the leader's fence). */
  private mayWrite: () => boolean = () => true;

  constructor(kc: KubeConfigLike, instance: string) {
    this.access = new KubeAccess(kc);
    this.http = new KubeHttp(this.access);
    this.instance = instance;
  }

  fence(mayWrite: () => boolean): void {
    this.mayWrite = mayWrite;
  }

  /** Every write this process sent to the API server, by what it was (dry runs included: they cost a round trip). */
  readonly writes = new Map<string, number>();

  private wrote(what: string): void {
    this.writes.set(what, (this.writes.get(what) ?? 0) + 1);
  }

  /** Every single-object read (GET) this process sent, by what it read: informers' lists and watches left out. */
  readonly reads = new Map<string, number>();

  private read(what: string): void {
    this.reads.set(what, (this.reads.get(what) ?? 0) + 1);
  }

  private gate(what: string): void {
    if (!this.mayWrite()) throw new Deposed(what);
  }

  // --- informers ----------------------------------------------------------------------------------------------

  private informer<T extends KubernetesObject>(path: string, opts: ResilientInformerOptions | undefined, labelSelector?: string, keep?: (o: T) => T): ResilientInformer<T> {
    return new ResilientInformer<T>(new ListWatch<T>(this.http, path, labelSelector, keep), opts);
  }

  /** `keep`: what the cache holds of each member (its parsed form: one copy per member, not two). */
  memberInformer(opts?: ResilientInformerOptions, keep?: (o: KubernetesObject) => KubernetesObject): ResilientInformer<KubernetesObject> {
    return this.informer(`/apis/${GROUP}/${VERSION}/teammembers`, opts, undefined, keep);
  }

  policyInformer(opts?: ResilientInformerOptions): ResilientInformer<KubernetesObject> {
    return this.informer(`/apis/${GROUP}/${VERSION}/keypolicies`, opts);
  }

  namespaceInformer(opts?: ResilientInformerOptions): ResilientInformer<V1Namespace> {
    return this.informer('/api/v1/namespaces', opts);
  }

  /** Only the Secrets this operator manages, selected by label, in every namespace. */
  secretInformer(labelSelector: string, opts?: ResilientInformerOptions): ResilientInformer<V1Secret> {
    return this.informer('/api/v1/secrets', opts, labelSelector);
  }

  /** Workloads that opted in to restarts (by label), of each kind, in every namespace. */
  workloadInformers(labelSelector: string, opts?: ResilientInformerOptions): WorkloadInformers {
    return {
      Deployment: this.informer('/apis/apps/v1/deployments', opts, labelSelector),
      StatefulSet: this.informer('/apis/apps/v1/statefulsets', opts, labelSelector),
      DaemonSet: this.informer('/apis/apps/v1/daemonsets', opts, labelSelector),
    };
  }

  /** Argo Rollouts that opted in to restarts (by label), in every namespace; only where the API server serves them. */
  rolloutInformer(labelSelector: string, opts?: ResilientInformerOptions): ResilientInformer<ArgoRollout> {
    const { group, version, plural } = ARGO_ROLLOUTS;
    return this.informer(`/apis/${group}/${version}/${plural}`, opts, labelSelector);
  }

  /** Whether the API server serves Argo Rollouts (discovery, which every authenticated user may read). */
  async servesRollouts(): Promise<boolean> {
    const { group, version, plural } = ARGO_ROLLOUTS;
    try {
      const list = await this.http.json<{ resources?: { name: string }[] }>({ method: 'GET', path: `/apis/${group}/${version}` });
      return (list.resources ?? []).some((r) => r.name === plural);
    } catch (e) {
      if (e instanceof KubeError && e.kind === 'notFound') return false;
      throw e;
    }
  }

  /**
   * Merge-patches a workload: annotations on it, and to restart it annotations on its pod template or, for an
   * Argo Rollout, its spec.restartAt.
   */
  async patchWorkload(kind: RestartTarget['kind'], namespace: string, name: string, patch: Json): Promise<KubernetesObject> {
    this.gate(`patch ${kind} ${namespace}/${name}`);
    this.wrote('workload');
    const { group, version, plural } = ARGO_ROLLOUTS;
    const path = kind === 'Rollout' ? `/apis/${group}/${version}/namespaces/${namespace}/${plural}/${name}` : `/apis/apps/v1/namespaces/${namespace}/${WORKLOAD_PLURAL[kind]}/${name}`;
    return this.http.json({ method: 'PATCH', path, body: patch, contentType: MERGE_PATCH });
  }

  // --- custom objects -----------------------------------------------------------------------------------------

  /** Merge-patches a member's status; fails with a conflict unless the member is still at resourceVersion. */
  async patchMemberStatusGuarded(namespace: string, name: string, resourceVersion: string, patch: Json): Promise<KubernetesObject> {
    this.gate('write a member status');
    this.wrote('member status');
    const out = await this.http.json<KubernetesObject>({ method: 'PATCH', path: `${member(namespace, name)}/status`, body: { metadata: { resourceVersion }, status: patch }, contentType: MERGE_PATCH });
    this.overwrote(namespace, name, resourceVersion);
    return out;
  }

  /**
   * Member versions this process wrote over, for a few seconds: a cache still holding one is behind our own write,
   * and a reconcile deciding on it would only earn a conflict. The watch event of the write brings the member back.
   */
  private readonly overwritten = new Map<string, { versions: string[]; at: number }>();

  private overwrote(namespace: string, name: string, resourceVersion: string): void {
    const id = `${namespace}/${name}`;
    const o = this.overwritten.get(id);
    const now = performance.now();
    // every version written over in the window (a claim, then the status): a cache holding any of them is behind
    const recent = o !== undefined && now - o.at < OWN_WRITE_WAIT_MS;
    this.overwritten.set(id, { versions: recent ? [...o.versions, resourceVersion] : [resourceVersion], at: now });
  }

  /** Whether the member at this resourceVersion is one this process has already written over. */
  behindOwnWrite(namespace: string, name: string, resourceVersion: string | undefined): boolean {
    const id = `${namespace}/${name}`;
    const o = this.overwritten.get(id);
    if (!o) return false;
    if (resourceVersion !== undefined && o.versions.includes(resourceVersion) && performance.now() - o.at < OWN_WRITE_WAIT_MS) return true;
    this.overwritten.delete(id);
    return false;
  }

  async readMember(namespace: string, name: string): Promise<KubernetesObject> {
    this.read('TeamMember');
    return this.http.json({ method: 'GET', path: member(namespace, name) });
  }

  async patchPolicyStatus(name: string, patch: Json): Promise<KubernetesObject> {
    this.gate('write a policy status');
    this.wrote('policy status');
    return this.http.json({ method: 'PATCH', path: `${POLICIES}/${name}/status`, body: { status: patch }, contentType: MERGE_PATCH });
  }

  /** Replaces a KeyPolicy's finalizers, guarded by resourceVersion. */
  async setPolicyFinalizers(name: string, resourceVersion: string, finalizers: string[]): Promise<KubernetesObject> {
    return this.setFinalizers('KeyPolicy', `${POLICIES}/${name}`, resourceVersion, finalizers);
  }

  /** Replaces a TeamMember's finalizers, guarded by resourceVersion. */
  async setMemberFinalizers(namespace: string, name: string, resourceVersion: string, finalizers: string[]): Promise<KubernetesObject> {
    const out = await this.setFinalizers('TeamMember', member(namespace, name), resourceVersion, finalizers);
    this.overwrote(namespace, name, resourceVersion);
    return out;
  }

  private async setFinalizers(kind: string, path: string, resourceVersion: string, finalizers: string[]): Promise<KubernetesObject> {
    this.gate(`change ${kind} finalizers`);
    this.wrote(`${kind} finalizers`);
    const body = [
      { op: 'test', path: '/metadata/resourceVersion', value: resourceVersion },
      { op: 'add', path: '/metadata/finalizers', value: finalizers },
    ];
    try {
      return await this.http.json<KubernetesObject>({ method: 'PATCH', path, body, contentType: JSON_PATCH });
    } catch (e) {
      // a failed `test` op means the object changed since it was read: the same thing as a conflict
      if (e instanceof KubeError && e.kind === 'invalid') throw new KubeError('conflict', 409, `${kind} changed since it was read: ${e.message}`);
      throw e;
    }
  }

  async namespaceUid(name: string): Promise<string> {
    const ns = await this.http.json<V1Namespace>({ method: 'GET', path: `/api/v1/namespaces/${name}` });
    if (!ns.metadata?.uid) throw new Error(`namespace ${name} has no uid`);
    return ns.metadata.uid;
  }

  // --- secrets ------------------------------------------------------------------------------------------------

  /** `what`: how the read is counted (a member's Secret, or the operator's own: its management key, its HMAC key). */
  async readSecret(namespace: string, name: string, what = 'member Secret'): Promise<V1Secret> {
    this.read(what);
    return this.http.json({ method: 'GET', path: `${secrets(namespace)}/${name}` });
  }

  /** With `dryRun`, the API server runs validation and admission (quota, policies) and stores nothing. */
  async createSecret(namespace: string, body: V1Secret, dryRun = false): Promise<V1Secret> {
    this.gate('create a Secret');
    this.wrote(dryRun ? 'Secret create (dry run)' : 'Secret create');
    return this.http.json({ method: 'POST', path: secrets(namespace), query: { dryRun: dryRun ? 'All' : undefined }, body });
  }

  /** Full replace with the read resourceVersion: a concurrent edit makes this fail with a conflict. */
  async replaceSecret(namespace: string, name: string, body: V1Secret, dryRun = false): Promise<V1Secret> {
    this.gate('replace a Secret');
    this.wrote(dryRun ? 'Secret replace (dry run)' : 'Secret replace');
    return this.http.json({ method: 'PUT', path: `${secrets(namespace)}/${name}`, query: { dryRun: dryRun ? 'All' : undefined }, body });
  }

  /** The operator's own Secret (the HMAC key), which every replica may create before any leads. */
  async createOwnSecret(namespace: string, body: V1Secret): Promise<V1Secret> {
    return this.http.json({ method: 'POST', path: secrets(namespace), body });
  }

  async deleteSecret(namespace: string, name: string, uid: string): Promise<void> {
    this.gate('delete a Secret');
    this.wrote('Secret delete');
    // the uid precondition makes sure only the Secret that was checked is deleted
    await this.http.json({ method: 'DELETE', path: `${secrets(namespace)}/${name}`, body: { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { uid } } });
  }

  // --- events -------------------------------------------------------------------------------------------------

  async event(regarding: ObjectRef, type: 'Normal' | 'Warning', reason: string, note: string, action: string): Promise<void> {
    const namespace = regarding.namespace ?? 'default';
    this.wrote('Event');
    await this.http.json({
      method: 'POST',
      path: `/apis/events.k8s.io/v1/namespaces/${namespace}/events`,
      body: {
        apiVersion: 'events.k8s.io/v1',
        kind: 'Event',
        // client-go's naming: <object>.<unique suffix>
        metadata: { name: `${regarding.name}.${Date.now().toString(16)}${randomBytes(3).toString('hex')}`, namespace },
        eventTime: microTime(Date.now()),
        reportingController: `${GROUP}/operator`,
        reportingInstance: this.instance,
        action,
        reason,
        note: note.slice(0, 1000),
        type,
        regarding: { apiVersion: regarding.apiVersion, kind: regarding.kind, name: regarding.name, namespace: regarding.namespace, uid: regarding.uid },
      },
    });
  }
}

