/**
 * Pure: which Secrets a workload uses, whether it must restart for a new key, how it is restarted, and whether its
 * rollout is done. Workloads opt in with the label teamkeys.dev/restart-on-rotation=true. The operator records the
 * key generation (the key's sequence number, never anything derived from the key) of every teamkeys Secret the
 * workload uses in an annotation on the workload; when one moves past what was recorded, it restarts the workload
 * once: a Deployment, StatefulSet or DaemonSet by writing the new record into its pod template, an Argo Rollout by
 * setting its spec.restartAt. A first sight only records, so opting in, an operator restart or a resync never
 * restarts anything.
 */
import type { V1PodTemplateSpec } from '@kubernetes/client-node';
import type { KindedWorkload, RestartTarget } from '../kube/cluster.ts';
import type { Json } from '../util/json.ts';

export const LABEL_RESTART = 'teamkeys.dev/restart-on-rotation';
/** Optional: the Secrets to watch, comma-separated; omitted: every Secret the pod template references. */
export const ANNOTATION_SECRETS = 'teamkeys.dev/secrets';
/** On the workload and its pod template: secret=generation, comma-separated, sorted. */
export const ANNOTATION_GENERATIONS = 'teamkeys.dev/key-generations';
/** On the workload while its restart waits for its turn (restartline.ts): since when, RFC 3339. */
export const ANNOTATION_RESTART_QUEUED = 'teamkeys.dev/restart-queued';
/** On the workload: when the operator last restarted it, RFC 3339. */
export const ANNOTATION_RESTARTED_AT = 'teamkeys.dev/restarted-at';

/** What the decisions read of a workload of any kind: its annotations, creation time and pod template. */
export interface WorkloadView {
  metadata?: { annotations?: Record<string, string> | undefined; creationTimestamp?: Date | string | undefined } | undefined;
  spec?: { template?: V1PodTemplateSpec | undefined } | undefined;
}

/** The Secrets a workload uses: named in its annotation, or referenced by its pod template (env, envFrom, volumes). */
export function secretsUsed(w: WorkloadView): string[] {
  const named = w.metadata?.annotations?.[ANNOTATION_SECRETS];
  if (named !== undefined) return [...new Set(named.split(',').map((s) => s.trim()).filter((s) => s !== ''))].toSorted();
  const pod = w.spec?.template?.spec;
  const names = new Set<string>();
  for (const c of [...(pod?.containers ?? []), ...(pod?.initContainers ?? [])]) {
    for (const e of c.envFrom ?? []) if (e.secretRef?.name) names.add(e.secretRef.name);
    for (const e of c.env ?? []) if (e.valueFrom?.secretKeyRef?.name) names.add(e.valueFrom.secretKeyRef.name);
  }
  for (const v of pod?.volumes ?? []) {
    if (v.secret?.secretName) names.add(v.secret.secretName);
    for (const p of v.projected?.sources ?? []) if (p.secret?.name) names.add(p.secret.name);
  }
  return [...names].toSorted();
}

export function parseGenerations(value: string | undefined): Map<string, number> {
  const out = new Map<string, number>();
  for (const part of (value ?? '').split(',')) {
    const [secret, gen] = part.split('=');
    if (secret && gen && /^\d+$/.test(gen)) out.set(secret, Number(gen));
  }
  return out;
}

export function formatGenerations(gens: ReadonlyMap<string, number>): string {
  return [...gens].toSorted(([a], [b]) => a.localeCompare(b)).map(([s, g]) => `${s}=${g}`).join(',');
}

export interface SecretGeneration {
  generation: number;
  /** the key was rotated (or replaced) at this instant and the previous one may still be in use */
  rotatingSince: number | undefined;
}

export type RestartDecision = { kind: 'none' } | { kind: 'record' | 'restart'; value: string; secrets: string[] };

/**
 * Compares what was recorded on the workload with the current generations. A Secret first seen while its key is
 * rotating restarts the workload if the workload is older than the rotation (its pods may hold the previous key).
 */
export function restartDecision(w: WorkloadView, current: ReadonlyMap<string, SecretGeneration>): RestartDecision {
  const seen = parseGenerations(w.metadata?.annotations?.[ANNOTATION_GENERATIONS]);
  const created = w.metadata?.creationTimestamp ? new Date(w.metadata.creationTimestamp).getTime() : 0;
  const stale: string[] = [];
  const next = new Map<string, number>();
  for (const [secret, g] of current) {
    next.set(secret, g.generation);
    const before = seen.get(secret);
    if (before !== undefined ? before < g.generation : g.rotatingSince !== undefined && created < g.rotatingSince) stale.push(secret);
  }
  const value = formatGenerations(next);
  if (stale.length > 0) return { kind: 'restart', value, secrets: stale };
  return value === formatGenerations(seen) ? { kind: 'none' } : { kind: 'record', value, secrets: [] };
}

/** An instant as the annotations and restartAt spell it: RFC 3339, to the second. */
export function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** A time an annotation of ours holds (undefined: none, or not a time). */
export function annotatedTime(w: WorkloadView, annotation: string): number | undefined {
  const v = w.metadata?.annotations?.[annotation];
  const t = v === undefined ? Number.NaN : Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
}

/**
 * The merge patch that restarts a workload and records `generations` (and when, `now`), its queued mark gone: the
 * record in the pod template of a Deployment, StatefulSet or DaemonSet rolls it; an Argo Rollout restarts its pods
 * in place through spec.restartAt (a new template would be a whole new revision, canary steps and all).
 */
export function restartPatch(kind: RestartTarget['kind'], generations: string, now: number): Json {
  const metadata = { annotations: { [ANNOTATION_GENERATIONS]: generations, [ANNOTATION_RESTARTED_AT]: rfc3339(now), [ANNOTATION_RESTART_QUEUED]: null } };
  if (kind === 'Rollout') return { metadata, spec: { restartAt: rfc3339(now) } };
  return { metadata, spec: { template: { metadata: { annotations: { [ANNOTATION_GENERATIONS]: generations } } } } };
}

/** Whether the pod template carries the generation and every replica runs it (the controller's own status). */
export function rolledOut(w: KindedWorkload, secret: string, generation: number): boolean {
  const template = parseGenerations(w.obj.spec?.template.metadata?.annotations?.[ANNOTATION_GENERATIONS]);
  return (template.get(secret) ?? -1) >= generation && rolloutComplete(w);
}

/** A workload created after `since` whose rollout is complete started with whatever key the Secret held then. */
export function startedAfter(w: KindedWorkload, since: number): boolean {
  const created = w.obj.metadata?.creationTimestamp;
  return created !== undefined && new Date(created).getTime() >= since && rolloutComplete(w);
}

/** Every replica runs the current pod template, by the controller's own status. */
export function rolloutComplete(w: KindedWorkload): boolean {
  const o = w.obj;
  if ((o.status?.observedGeneration ?? 0) < (o.metadata?.generation ?? 0)) return false;
  switch (w.kind) {
    case 'Deployment': {
      const want = w.obj.spec?.replicas ?? 1;
      const s = w.obj.status;
      return (s?.updatedReplicas ?? 0) === want && (s?.availableReplicas ?? 0) === want && (s?.replicas ?? 0) === want;
    }
    case 'StatefulSet': {
      const want = w.obj.spec?.replicas ?? 1;
      const s = w.obj.status;
      return s?.updateRevision === s?.currentRevision && (s?.readyReplicas ?? 0) === want;
    }
    case 'DaemonSet': {
      const s = w.obj.status;
      const want = s?.desiredNumberScheduled ?? 0;
      return (s?.updatedNumberScheduled ?? 0) === want && (s?.numberAvailable ?? 0) === want;
    }
  }
}
