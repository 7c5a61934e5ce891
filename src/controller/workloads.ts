/**
 * Pure: which Secrets a workload uses, whether it must restart for a new key, and whether its rollout is done.
 * Workloads opt in with the label teamkeys.dev/restart-on-rotation=true. The operator records the key generation
 * (the key's sequence number, never anything derived from the key) of every teamkeys Secret the workload uses in
 * an annotation on the workload; when one moves past what was recorded, it writes the new record into the pod
 * template too, which rolls the workload once. A first sight only records, so opting in, an operator restart or a
 * resync never restarts anything.
 */
import type { KindedWorkload, Workload } from '../kube/cluster.ts';

export const LABEL_RESTART = 'teamkeys.dev/restart-on-rotation';
/** Optional: the Secrets to watch, comma-separated; omitted: every Secret the pod template references. */
export const ANNOTATION_SECRETS = 'teamkeys.dev/secrets';
/** On the workload and its pod template: secret=generation, comma-separated, sorted. */
export const ANNOTATION_GENERATIONS = 'teamkeys.dev/key-generations';

/** The Secrets a workload uses: named in its annotation, or referenced by its pod template (env, envFrom, volumes). */
export function secretsUsed(w: Workload): string[] {
  const named = w.metadata?.annotations?.[ANNOTATION_SECRETS];
  if (named !== undefined) return [...new Set(named.split(',').map((s) => s.trim()).filter((s) => s !== ''))].toSorted();
  const pod = w.spec?.template.spec;
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
export function restartDecision(w: Workload, current: ReadonlyMap<string, SecretGeneration>): RestartDecision {
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
