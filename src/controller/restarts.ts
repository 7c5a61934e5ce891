/**
 * The workload reconcile: records the key generations a workload uses, and rolls it (once) when one moved on.
 * Reads only the caches; writes one merge patch when something changed.
 */
import type { TeamMember } from '../api/schema.ts';
import type { Cluster, KindedWorkload } from '../kube/cluster.ts';
import type { Recorder } from './events.ts';
import { parseKeyName } from './keyname.ts';
import { ANNOTATION_GENERATIONS, restartDecision, secretsUsed, type SecretGeneration } from './workloads.ts';

export interface RestartDeps {
  cluster: Cluster;
  recorder: Recorder;
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

export async function reconcileWorkload(w: KindedWorkload, d: RestartDeps): Promise<void> {
  const meta = w.obj.metadata;
  if (!meta?.name || !meta.namespace || !meta.uid || meta.deletionTimestamp) return;
  const current = new Map<string, SecretGeneration>();
  for (const secret of secretsUsed(w.obj)) {
    const m = d.memberBySecret(meta.namespace, secret);
    const g = m ? generationOf(m) : undefined;
    if (g) current.set(secret, g);
  }
  const decision = restartDecision(w.obj, current);
  if (decision.kind === 'none') return;
  const annotations = { [ANNOTATION_GENERATIONS]: decision.value };
  await d.cluster.patchWorkload(w.kind, meta.namespace, meta.name, decision.kind === 'restart'
    ? { metadata: { annotations }, spec: { template: { metadata: { annotations } } } }
    : { metadata: { annotations } });
  if (decision.kind === 'restart') {
    await d.recorder.normal({ apiVersion: 'apps/v1', kind: w.kind, metadata: { name: meta.name, namespace: meta.namespace, uid: meta.uid } }, 'RestartedForNewKey', `rolling out: Secret ${decision.secrets.join(', ')} holds a new key`);
  }
}
