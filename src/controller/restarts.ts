/**
 * The workload reconcile: records the key generations a workload uses, and restarts it (once) when one moved on,
 * when the restart line (restartline.ts) gives it its turn. While it waits, the workload says so: the annotation
 * teamkeys.dev/restart-queued holds since when, and one Event RestartQueued tells why. Reads only the caches; writes
 * one merge patch when something changed.
 */
import type { TeamMember } from '../api/schema.ts';
import type { Cluster, RestartTarget } from '../kube/cluster.ts';
import type { Clock } from '../util/clock.ts';
import { parseKeyName } from './keyname.ts';
import type { RestartLine } from './restartline.ts';
import type { EventReason } from './reasons.ts';
import {
  ANNOTATION_GENERATIONS, ANNOTATION_RESTART_QUEUED, annotatedTime, restartDecision, restartPatch, rfc3339, secretsUsed, type SecretGeneration,
} from './workloads.ts';

export interface RestartDeps {
  cluster: Pick<Cluster, 'patchWorkload'>;
  /** a Normal Event on the workload */
  event: (w: RestartTarget, reason: Extract<EventReason, 'RestartedForNewKey' | 'RestartQueued'>, message: string) => Promise<void>;
  line: Pick<RestartLine, 'ask' | 'withdraw' | 'bounds'>;
  clock: Clock;
  memberBySecret: (namespace: string, secret: string) => TeamMember | undefined;
}

/** The generation of the key a member's Secret holds: its sequence number, and since when it is rotating. */
export function generationOf(m: TeamMember): SecretGeneration | undefined {
  const key = m.status?.key;
  const seq = key ? parseKeyName(key.name)?.seq : undefined;
  if (seq === undefined) return undefined;
  const draining = (m.status?.previousKeys ?? []).filter((p) => p.state === 'Draining').map((p) => Date.parse(p.rotatedAt));
  return { generation: seq, rotatingSince: draining.length > 0 ? Math.max(...draining) : undefined };
}

/** `id`: the workload's name in the restart line. */
export async function reconcileWorkload(w: RestartTarget, id: string, d: RestartDeps): Promise<void> {
  const meta = w.obj.metadata;
  if (!meta?.name || !meta.namespace || !meta.uid || meta.deletionTimestamp) {
    d.line.withdraw(id);
    return;
  }
  const current = new Map<string, SecretGeneration>();
  for (const secret of secretsUsed(w.obj)) {
    const m = d.memberBySecret(meta.namespace, secret);
    const g = m ? generationOf(m) : undefined;
    if (g) current.set(secret, g);
  }
  const decision = restartDecision(w.obj, current);
  const queuedSince = annotatedTime(w.obj, ANNOTATION_RESTART_QUEUED);
  if (decision.kind !== 'restart') {
    // nothing to restart (any more): out of the line, and the mark of a wait gone with it
    d.line.withdraw(id);
    const annotations = { ...(decision.kind === 'record' ? { [ANNOTATION_GENERATIONS]: decision.value } : {}), ...(queuedSince === undefined ? {} : { [ANNOTATION_RESTART_QUEUED]: null }) };
    if (Object.keys(annotations).length > 0) await d.cluster.patchWorkload(w.kind, meta.namespace, meta.name, { metadata: { annotations } });
    return;
  }
  const why = `Secret ${decision.secrets.join(', ')} holds a new key`;
  const turn = d.line.ask(id, meta.namespace, queuedSince);
  if (!turn.go) {
    // shown once: the annotation outlives this process, so a restart or a new leader neither repeats the Event
    // nor loses the place in line
    if (queuedSince !== undefined) return;
    await d.cluster.patchWorkload(w.kind, meta.namespace, meta.name, { metadata: { annotations: { [ANNOTATION_RESTART_QUEUED]: rfc3339(turn.queuedAt) } } });
    await d.event(w, 'RestartQueued', `restart queued (${why}): ${turn.ahead} restart(s) of this namespace ahead; at most ${d.line.bounds.perNamespace} a minute per namespace and ${d.line.bounds.fleet} in the cluster`);
    return;
  }
  await d.cluster.patchWorkload(w.kind, meta.namespace, meta.name, restartPatch(w.kind, decision.value, d.clock.now()));
  await d.event(w, 'RestartedForNewKey', `${w.kind === 'Rollout' ? 'restarting its pods (spec.restartAt)' : 'rolling out'}: ${why}${queuedSince === undefined ? '' : `, after waiting since ${rfc3339(queuedSince)}`}`);
}
