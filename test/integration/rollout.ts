/**
 * Workloads on the fake nodes, for tests that need pods to really roll: Deployments that become Available
 * (kwok marks their pods Running and Ready), roll to a new ReplicaSet when the pod template changes, or stall;
 * and the other things a workload may be: a Job, a CronJob, an Argo Rollout (its real CRD, no Argo controller).
 */
import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { AppsV1Api, BatchV1Api, CustomObjectsApi, type KubeConfig, type V1Deployment, type V1PodTemplateSpec } from '@kubernetes/client-node';
import { inject } from 'vitest';
import { MERGE, eventually } from './kube.ts';

const run = promisify(execFile);

export interface WorkloadOptions {
  replicas?: number;
  /** a Secret the pods take their environment from (envFrom), as a member's workload would */
  secretName?: string;
  /** pods are scheduled but kwok leaves them Pending and never Ready: the rollout can never complete */
  neverReady?: boolean;
  /** more Secrets the pods take their environment from */
  moreSecrets?: string[];
  progressDeadlineSeconds?: number;
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
}

/** Pods carrying this annotation are left alone by kwok (its --disregard-status-with-annotation-selector). */
export const NEVER_READY = { 'kwok.x-k8s.io/status': 'custom' };

/** The pod template of every workload here: one container taking its environment from the Secrets (envFrom). */
function podTemplate(labels: Record<string, string>, secrets: readonly string[], o: { annotations?: Record<string, string> | undefined; restartPolicy?: string } = {}): V1PodTemplateSpec {
  return {
    metadata: { labels, ...(o.annotations ? { annotations: o.annotations } : {}) },
    spec: {
      containers: [{ name: 'app', image: 'registry.invalid/app:1', envFrom: secrets.map((s) => ({ secretRef: { name: s } })) }],
      ...(o.restartPolicy ? { restartPolicy: o.restartPolicy } : {}),
    },
  };
}

export class Workload {
  private readonly apps: AppsV1Api;
  readonly namespace: string;
  readonly name: string;
  constructor(kc: KubeConfig, namespace: string, name: string) {
    this.apps = kc.makeApiClient(AppsV1Api);
    this.namespace = namespace;
    this.name = name;
  }

  static async create(kc: KubeConfig, namespace: string, name: string, o: WorkloadOptions = {}): Promise<Workload> {
    const labels = { app: name };
    await kc.makeApiClient(AppsV1Api).createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name, ...(o.annotations ? { annotations: o.annotations } : {}), ...(o.labels ? { labels: o.labels } : {}) },
        spec: {
          replicas: o.replicas ?? 3,
          selector: { matchLabels: labels },
          progressDeadlineSeconds: o.progressDeadlineSeconds ?? 600,
          strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
          template: podTemplate(labels, [...(o.secretName ? [o.secretName] : []), ...(o.moreSecrets ?? [])], { annotations: o.neverReady ? NEVER_READY : undefined }),
        },
      },
    });
    return new Workload(kc, namespace, name);
  }

  read(): Promise<V1Deployment> {
    return this.apps.readNamespacedDeployment({ namespace: this.namespace, name: this.name });
  }

  /** How many times it rolled: the Deployment's revision (1 after creation). */
  async revision(): Promise<number> {
    return Number((await this.read()).metadata?.annotations?.['deployment.kubernetes.io/revision'] ?? 0);
  }

  /** Changes the pod template (an annotation), which starts a rollout; returns the generation to wait for. */
  async bumpTemplate(annotations: Record<string, string>): Promise<number> {
    const d = await this.apps.patchNamespacedDeployment({ namespace: this.namespace, name: this.name, body: { spec: { template: { metadata: { annotations } } } } }, MERGE);
    return d.metadata?.generation ?? 0;
  }

  /** Waits until the controller has seen `generation` and every replica is updated and available. */
  rolledOut(generation = 0, timeoutMs = 60_000): Promise<V1Deployment> {
    return eventually(async () => {
      const d = await this.read();
      const want = d.spec?.replicas ?? 1;
      const s = d.status;
      const done = (s?.observedGeneration ?? 0) >= Math.max(generation, d.metadata?.generation ?? 0)
        && s?.updatedReplicas === want && s.availableReplicas === want && (s.replicas ?? 0) === want
        && d.status?.conditions?.some((c) => c.type === 'Available' && c.status === 'True');
      return done ? d : undefined;
    }, timeoutMs, `${this.namespace}/${this.name} rolled out`);
  }

  /** Waits until the Deployment reports it cannot progress (Progressing=False, ProgressDeadlineExceeded). */
  stalled(timeoutMs = 60_000): Promise<V1Deployment> {
    return eventually(async () => {
      const d = await this.read();
      return d.status?.conditions?.some((c) => c.type === 'Progressing' && c.status === 'False' && c.reason === 'ProgressDeadlineExceeded') ? d : undefined;
    }, timeoutMs, `${this.namespace}/${this.name} stalled`);
  }

  /** The pod-template annotations of each ReplicaSet that still has pods, newest first. */
  async liveReplicaSets(): Promise<{ name: string; replicas: number; annotations: Record<string, string> }[]> {
    const list = await this.apps.listNamespacedReplicaSet({ namespace: this.namespace, labelSelector: `app=${this.name}` });
    return list.items
      .filter((rs) => (rs.status?.replicas ?? 0) > 0)
      .toSorted((a, b) => Number(b.metadata?.annotations?.['deployment.kubernetes.io/revision'] ?? 0) - Number(a.metadata?.annotations?.['deployment.kubernetes.io/revision'] ?? 0))
      .map((rs) => ({ name: rs.metadata?.name ?? '', replicas: rs.status?.replicas ?? 0, annotations: rs.spec?.template?.metadata?.annotations ?? {} }));
  }

  /** `kubectl rollout status`, as a user would wait; resolves to its exit status and output. */
  async rolloutStatus(timeout = '60s'): Promise<{ ok: boolean; out: string }> {
    try {
      const r = await run(join(inject('controlPlaneBinDir'), 'kubectl'), ['--kubeconfig', inject('kubeconfigPath'), 'rollout', 'status', `deployment/${this.name}`, '-n', this.namespace, `--timeout=${timeout}`]);
      return { ok: true, out: r.stdout + r.stderr };
    } catch (e) {
      const err = e as { stdout?: string; stderr?: string };
      return { ok: false, out: (err.stdout ?? '') + (err.stderr ?? '') };
    }
  }
}

/** A Job and a suspended CronJob using the Secret, both labelled as a workload that opts in to restarts would be. */
export async function batchWorkloads(kc: KubeConfig, namespace: string, secretName: string, labels: Record<string, string>): Promise<void> {
  const batch = kc.makeApiClient(BatchV1Api);
  const template = (app: string) => podTemplate({ app }, [secretName], { restartPolicy: 'Never' });
  await batch.createNamespacedJob({ namespace, body: { metadata: { name: 'once', labels }, spec: { backoffLimit: 0, template: template('once') } } });
  await batch.createNamespacedCronJob({ namespace, body: { metadata: { name: 'nightly', labels }, spec: { schedule: '0 3 * * *', suspend: true, jobTemplate: { spec: { template: template('nightly') } } } } });
}

/** Argo Rollouts' release whose Rollout CRD the tests install, from the Go module proxy (Apache-2.0). */
export const ARGO_ROLLOUTS_VERSION = 'v1.8.3';

/**
 * The path of Argo Rollouts' own Rollout CRD (manifests/crds/rollout-crd.yaml of github.com/argoproj/argo-rollouts at
 * ARGO_ROLLOUTS_VERSION), downloaded through the Go module proxy into the module cache at test time, as the
 * control plane's binaries are: nothing of Argo is vendored here.
 */
export async function argoRolloutsCrd(): Promise<string> {
  const { stdout } = await run('go', ['mod', 'download', '-json', `github.com/argoproj/argo-rollouts@${ARGO_ROLLOUTS_VERSION}`], {
    cwd: tmpdir(), env: { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '-mod=mod' }, maxBuffer: 1 << 20,
  });
  const dir = (JSON.parse(stdout) as { Dir?: string }).Dir;
  if (!dir) throw new Error(`go mod download gave no directory: ${stdout}`);
  return join(dir, 'manifests/crds/rollout-crd.yaml');
}

export const ROLLOUTS = { group: 'argoproj.io', version: 'v1alpha1', plural: 'rollouts' } as const;

/** An Argo Rollout (canary, paused at its first step: no Argo controller runs here, nothing acts on it). */
export async function createRollout(kc: KubeConfig, namespace: string, name: string, o: { secretName: string; labels?: Record<string, string> }): Promise<void> {
  const labels = { app: name };
  await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
    ...ROLLOUTS, namespace,
    body: {
      apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout',
      metadata: { name, ...(o.labels ? { labels: o.labels } : {}) },
      spec: { replicas: 1, selector: { matchLabels: labels }, template: podTemplate(labels, [o.secretName]), strategy: { canary: { steps: [{ setWeight: 20 }, { pause: {} }] } } },
    },
  });
}
