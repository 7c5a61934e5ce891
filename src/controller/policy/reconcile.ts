import type { Parsed } from '../../api/objects.ts';
import type { Condition, KeyPolicy, KeyPolicyStatus, TeamMember } from '../../api/schema.ts';
import type { Cluster } from '../../kube/cluster.ts';
import { toJson } from '../../util/json.ts';
import { usdShown } from '../../util/money.ts';
import { setCondition } from '../conditions.ts';
import { mergePatch } from '../mergepatch.ts';

/** Pure: a policy's status from the members that name it. */
export function policyStatus(name: string, generation: number | undefined, prev: KeyPolicyStatus, invalid: string | undefined, members: readonly TeamMember[], now: string): KeyPolicyStatus {
  const mine = members.filter((m) => m.spec.policy === name && !m.metadata.deletionTimestamp);
  const ready = mine.filter((m) => m.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
  const spend = usdShown(mine.reduce((sum, m) => sum + (m.status?.usage?.windowUSD ?? 0), 0));
  const conditions: Condition[] = setCondition(prev.conditions, invalid === undefined
    ? { type: 'Ready', status: 'True', reason: 'Accepted', message: `${ready.length} of ${mine.length} members ready` }
    : { type: 'Ready', status: 'False', reason: 'InvalidSpec', message: invalid }, generation, now);
  return { observedGeneration: generation, conditions, members: mine.length, readyMembers: ready.length, spendThisWindowUSD: spend };
}

export async function reconcilePolicy(p: NonNullable<Parsed<KeyPolicy>>, members: readonly TeamMember[], cluster: Cluster, now: string): Promise<void> {
  const obj = p.ok ? p.value : p.raw;
  const prev: KeyPolicyStatus = p.ok ? (p.value.status ?? {}) : {};
  const next = policyStatus(obj.metadata.name, obj.metadata.generation, prev, p.ok ? undefined : p.message, members, now);
  const patch = mergePatch(toJson(p.ok ? p.value.status : p.raw.status), toJson(next));
  if (patch !== undefined) await cluster.patchPolicyStatus(obj.metadata.name, patch);
}
