/**
 * The operator's read side: four informer caches (and, with restarts on, those of opted-in workloads and of Argo
 * Rollouts where served), and the typed views the reconcilers decide on. Members and
 * policies are parsed once per resourceVersion: policy reconciles, sweeps and scrapes read all of them, and a
 * policy is resolved once per object it is parsed to (api/policy.ts).
 */
import type { KubernetesObject, V1Namespace, V1Secret } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { parseMember, parsePolicy, type Parsed } from '../api/objects.ts';
import { LABEL_MANAGED_BY, LABEL_MEMBER, MANAGER, memberSecretName, type KeyPolicy, type TeamMember } from '../api/schema.ts';
import { type Cluster, type KindedWorkload, type RestartTarget, type WorkloadInformers } from '../kube/cluster.ts';
import type { ResilientInformer } from '../kube/informer.ts';
import { errorMessage } from '../util/errors.ts';
import { speaksFor } from './policy/operators.ts';
import { RolloutWatch } from './rolloutwatch.ts';
import { matchesSelector } from './selector.ts';
import { ANNOTATION_RESTARTED_AT, LABEL_RESTART, annotatedTime, secretsUsed } from './workloads.ts';

export class Caches {
  readonly members: ResilientInformer<KubernetesObject>;
  readonly policies: ResilientInformer<KubernetesObject>;
  readonly namespaces: ResilientInformer<V1Namespace>;
  readonly secrets: ResilientInformer<V1Secret>;
  /** workloads that opted in to restarts; undefined with --restart-workloads=false */
  readonly workloads: WorkloadInformers | undefined;
  /** Argo Rollouts that opted in, while the API server serves them; undefined with --restart-workloads=false */
  readonly rollouts: RolloutWatch | undefined;
  /** each cached member that parsed, as parsed: its spec and status are the cached object's own (one copy) */
  private readonly parsed = new WeakMap<object, TeamMember>();
  private readonly parsedPolicies = new Map<string, { rv: string; value: Parsed<KeyPolicy> }>();
  private readonly selector: Record<string, string> | undefined;

  constructor(cluster: Cluster, namespaceSelector: Record<string, string> | undefined, log: Logger, restartWorkloads: boolean) {
    this.selector = namespaceSelector;
    const onError = (what: string) => (err: unknown, retryInMs: number) => log.warn({ informer: what, retryInMs, err: errorMessage(err) }, 'watch stopped; restarting');
    // the cache keeps each member parsed, once: a raw copy beside a parsed one was a third of a member's memory
    // (its metadata too: the parsed copy is the one kept, 140 bytes a member)
    this.members = cluster.memberInformer({ onError: onError('teammembers') }, (o) => {
      const p = parseMember(o);
      if (!p?.ok) return o;
      const kept = Object.assign(o, { metadata: p.value.metadata, spec: p.value.spec, status: p.value.status });
      this.parsed.set(kept, p.value);
      return kept;
    });
    this.policies = cluster.policyInformer({ onError: onError('keypolicies') });
    this.namespaces = cluster.namespaceInformer({ onError: onError('namespaces') });
    this.secrets = cluster.secretInformer(`${LABEL_MANAGED_BY}=${MANAGER},${LABEL_MEMBER}`, { onError: onError('secrets') });
    this.workloads = restartWorkloads ? cluster.workloadInformers(`${LABEL_RESTART}=true`, { onError: onError('workloads') }) : undefined;
    this.rollouts = restartWorkloads ? new RolloutWatch(cluster, `${LABEL_RESTART}=true`, log) : undefined;
    this.policies.on('delete', (o) => this.parsedPolicies.delete(o.metadata?.name ?? ''));
  }

  async start(): Promise<void> {
    await Promise.all([this.namespaces.start(), this.policies.start(), this.secrets.start(), this.members.start(), ...this.workloadInformers().map((i) => i.start()), this.rollouts?.start()]);
  }

  async stop(): Promise<void> {
    await Promise.all([this.members.stop(), this.policies.stop(), this.namespaces.stop(), this.secrets.stop(), ...this.workloadInformers().map((i) => i.stop()), this.rollouts?.stop()]);
  }

  private workloadInformers(): ResilientInformer<KubernetesObject>[] {
    const w = this.workloads;
    return w ? [w.Deployment, w.StatefulSet, w.DaemonSet] : [];
  }

  /** Opted-in workloads (of one namespace, when given). */
  workloadList(namespace?: string): KindedWorkload[] {
    const w = this.workloads;
    if (!w) return [];
    return [
      ...w.Deployment.list(namespace).map((obj) => ({ kind: 'Deployment' as const, obj })),
      ...w.StatefulSet.list(namespace).map((obj) => ({ kind: 'StatefulSet' as const, obj })),
      ...w.DaemonSet.list(namespace).map((obj) => ({ kind: 'DaemonSet' as const, obj })),
    ];
  }

  /** Everything opted in that the operator may restart (of one namespace, when given): Argo Rollouts too. */
  restartTargets(namespace?: string): RestartTarget[] {
    return [...this.workloadList(namespace), ...(this.rollouts?.list(namespace) ?? []).map((obj) => ({ kind: 'Rollout' as const, obj }))];
  }

  workload(kind: RestartTarget['kind'], namespace: string, name: string): RestartTarget | undefined {
    const w = this.workloads;
    if (!w) return undefined;
    switch (kind) {
      case 'Rollout': {
        const obj = this.rollouts?.get(name, namespace);
        return obj && { kind, obj };
      }
      case 'Deployment': {
        const obj = w.Deployment.get(name, namespace);
        return obj && { kind, obj };
      }
      case 'StatefulSet': {
        const obj = w.StatefulSet.get(name, namespace);
        return obj && { kind, obj };
      }
      case 'DaemonSet': {
        const obj = w.DaemonSet.get(name, namespace);
        return obj && { kind, obj };
      }
    }
  }

  /** Opted-in workloads that use the Secret (Argo Rollouts aside: rolloutsUsing). */
  workloadsUsing(namespace: string, secret: string): KindedWorkload[] {
    return this.workloadList(namespace).filter((w) => secretsUsed(w.obj).includes(secret));
  }

  /** Opted-in Argo Rollouts that use the Secret. */
  rolloutsUsing(namespace: string, secret: string): RestartTarget[] {
    return (this.rollouts?.list(namespace) ?? []).filter((obj) => secretsUsed(obj).includes(secret)).map((obj) => ({ kind: 'Rollout' as const, obj }));
  }

  /**
   * When opted-in workloads were last restarted (of one namespace, when given), as they record it: to the second,
   * so each counts to the end of its second. The restart line's window keeps those of the last minute.
   */
  recentRestarts(namespace?: string): number[] {
    const out: number[] = [];
    for (const w of this.restartTargets(namespace)) {
      if (!this.manages(w.obj.metadata?.namespace)) continue;
      const t = annotatedTime(w.obj, ANNOTATION_RESTARTED_AT);
      if (t !== undefined) out.push(t + 999);
    }
    return out;
  }

  /** The member whose Secret this is. */
  memberBySecret(namespace: string, secret: string): TeamMember | undefined {
    for (const o of this.members.list(namespace)) {
      const p = this.member(o);
      if (p?.ok && memberSecretName(p.value.metadata.name, p.value.spec.secretName) === secret) return p.value;
    }
    return undefined;
  }

  /** An empty cache would read as "no policy", "namespace not allowed", "no Secret": never decide on one. */
  get synced(): boolean {
    return this.members.synced && this.policies.synced && this.namespaces.synced && this.secrets.synced;
  }

  /** Whether this operator manages TeamMembers in the namespace (--namespace-selector). */
  manages(namespace: string | undefined): boolean {
    if (!this.selector) return true;
    return namespace !== undefined && matchesSelector({ matchLabels: this.selector }, this.namespaces.get(namespace)?.metadata?.labels);
  }

  member(o: KubernetesObject | undefined): Parsed<TeamMember> {
    if (!o) return undefined;
    const parsed = this.parsed.get(o);
    if (parsed) return { ok: true, value: parsed };
    // (a member that does not parse is read as it is, and parsed again at each read: rare, and each says why)
    return parseMember(o);
  }

  /** Every readable member of a managed namespace. */
  allMembers(): TeamMember[] {
    const managed = new Map<string | undefined, boolean>(); // one selector match per namespace, not per member
    const manages = (ns: string | undefined) => managed.get(ns) ?? managed.set(ns, this.manages(ns)).get(ns) === true;
    const out: TeamMember[] = [];
    for (const o of this.members.list()) {
      const p = this.member(o);
      if (p?.ok && manages(p.value.metadata.namespace)) out.push(p.value);
    }
    return out;
  }

  /** Every readable member of the cluster, whichever operator manages it (what a policy's status counts). */
  everyMember(): TeamMember[] {
    const out: TeamMember[] = [];
    for (const o of this.members.list()) {
      const p = this.member(o);
      if (p?.ok) out.push(p.value);
    }
    return out;
  }

  allPolicies(): KeyPolicy[] {
    return this.policies.list().flatMap((o) => {
      const p = this.parsedPolicy(o);
      return p?.ok ? [p.value] : [];
    });
  }

  /** The policies this operator speaks for (policy/operators.ts speaksFor): their workspaces are its to list. */
  servedPolicies(operatorId: string): KeyPolicy[] {
    const used = new Set(this.allMembers().map((m) => m.spec.policy));
    return this.allPolicies().filter((p) => speaksFor(p.metadata.name, p.status, operatorId, this.selector !== undefined, used));
  }

  policy(name: string): KeyPolicy | undefined {
    const p = this.parsedPolicy(this.policies.get(name));
    return p?.ok ? p.value : undefined;
  }

  private parsedPolicy(o: KubernetesObject | undefined): Parsed<KeyPolicy> {
    if (!o) return undefined;
    const name = o.metadata?.name ?? '';
    const rv = o.metadata?.resourceVersion ?? '';
    const hit = this.parsedPolicies.get(name);
    if (hit && hit.rv === rv) return hit.value;
    const value = parsePolicy(o);
    this.parsedPolicies.set(name, { rv, value });
    return value;
  }
}
