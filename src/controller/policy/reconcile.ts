import type { Parsed } from '../../api/objects.ts';
import { POLICY_FINALIZER, POLICY_MODELS_MAX, type Condition, type KeyPolicy, type KeyPolicyStatus, type TeamMember } from '../../api/schema.ts';
import type { Cluster } from '../../kube/cluster.ts';
import { toJson } from '../../util/json.ts';
import { usdShown } from '../../util/money.ts';
import { isTrue, setCondition } from '../conditions.ts';
import type { Recorder } from '../events.ts';
import { mergePatch } from '../mergepatch.ts';
import { deleteGuardrails, syncGuardrail, type GuardrailDeps } from './guardrail.ts';
import { modelsShown } from './rules.ts';
import { addModels, rankModels } from '../member/analytics.ts';

/** How many member names a message lists before it says "and N more". */
const NAMED = 5;

/** Pure: the members holding a policy's deletion, as a sentence. */
export function inUseMessage(users: readonly string[]): string {
  const sorted = users.toSorted();
  const named = sorted.slice(0, NAMED).join(', ');
  const more = sorted.length > NAMED ? ` and ${sorted.length - NAMED} more` : '';
  return `deletion waits for ${sorted.length} TeamMember${sorted.length === 1 ? '' : 's'} that use this policy: ${named}${more}; delete them or move them to another policy`;
}

/**
 * Pure: a policy's status from the members that name it. `users` are all members naming it, terminating ones
 * and unreadable ones included (they still need its deletionPolicy), as namespace/name.
 */
export function policyStatus(name: string, generation: number | undefined, prev: KeyPolicyStatus, invalid: string | undefined, members: readonly TeamMember[], deleting: { users: readonly string[] } | undefined, now: string): KeyPolicyStatus {
  const mine = members.filter((m) => m.spec.policy === name && !m.metadata.deletionTimestamp);
  const ready = mine.filter((m) => isTrue(m.status?.conditions, 'Ready'));
  const spend = usdShown(mine.reduce((sum, m) => sum + (m.status?.usage?.windowUSD ?? 0), 0));
  const conditions: Condition[] = setCondition(prev.conditions, deleting
    ? { type: 'Ready', status: 'False', reason: 'InUse', message: inUseMessage(deleting.users) }
    : invalid === undefined
      ? { type: 'Ready', status: 'True', reason: 'Accepted', message: `${ready.length} of ${mine.length} members ready` }
      : { type: 'Ready', status: 'False', reason: 'InvalidSpec', message: invalid }, generation, now);
  const inactive = mine.filter((m) => m.status?.inactive);
  const reaped = inactive.length === 0 ? undefined : {
    disabled: inactive.length,
    deleted: inactive.filter((m) => m.status?.inactive?.keyDeleted).length,
    members: inactive.map((m) => `${m.metadata.namespace ?? ''}/${m.metadata.name}`).toSorted().slice(0, 20),
  };
  const models = new Map<string, { usd: number; requests: number }>();
  for (const m of mine) addModels(models, m.status?.usage?.models);
  const analyzed = mine.some((m) => m.status?.usage?.requests !== undefined);
  return {
    observedGeneration: generation, conditions, members: mine.length, readyMembers: ready.length, spendThisWindowUSD: spend,
    ...(analyzed ? {
      requestsThisWindow: mine.reduce((sum, m) => sum + (m.status?.usage?.requests ?? 0), 0),
      spendByModel: rankModels(models, POLICY_MODELS_MAX),
    } : {}),
    forecastExhausting: mine.filter((m) => isTrue(m.status?.conditions, 'BudgetForecast')).length,
    ...(reaped ? { inactivity: reaped } : {}),
  };
}

/** The keys a policy's guardrail must hold: every active and draining key of its members that still exists. */
export function policyKeys(name: string, members: readonly TeamMember[], exists: (hash: string) => boolean): string[] {
  const out: string[] = [];
  for (const m of members) {
    if (m.spec.policy !== name || m.metadata.deletionTimestamp) continue;
    const s = m.status;
    if (s?.key && !s.inactive?.keyDeleted) out.push(s.key.hash);
    for (const p of s?.previousKeys ?? []) if (p.state === 'Draining') out.push(p.hash);
  }
  return out.filter(exists);
}

export interface PolicyDeps {
  cluster: Cluster;
  recorder: Recorder;
  now: string;
  /** undefined while the management key is not valid: OpenRouter cannot be reached */
  guardrail: GuardrailDeps | undefined;
  keyExists: (hash: string) => boolean;
}

/** How long a deleted policy waits for a working management key to delete its guardrail. */
const CREDENTIALS_WAIT_MS = 30_000;

/**
 * In-use protection, as Kubernetes protects a PersistentVolumeClaim: the policy carries a finalizer; deleted while
 * members use it, it waits (status says which) so one mistaken delete never cuts off a tier; it goes when the last
 * one has.
 */
export async function reconcilePolicy(p: NonNullable<Parsed<KeyPolicy>>, members: readonly TeamMember[], users: readonly string[], d: PolicyDeps): Promise<{ requeueAfterMs?: number }> {
  const obj = p.ok ? p.value : p.raw;
  const meta = obj.metadata;
  const finalizers = meta.finalizers ?? [];
  const deleting = meta.deletionTimestamp !== undefined;
  if (!deleting && !finalizers.includes(POLICY_FINALIZER)) {
    await d.cluster.setPolicyFinalizers(meta.name, meta.resourceVersion ?? '', [...finalizers, POLICY_FINALIZER]);
    return {}; // the update event brings it back with its finalizer
  }
  if (deleting && users.length === 0) {
    if (p.ok && finalizers.includes(POLICY_FINALIZER)) {
      if (!d.guardrail) return { requeueAfterMs: CREDENTIALS_WAIT_MS };
      await deleteGuardrails(p.value, p.value.status?.guardrail, d.guardrail);
    }
    if (finalizers.includes(POLICY_FINALIZER)) await d.cluster.setPolicyFinalizers(meta.name, meta.resourceVersion ?? '', finalizers.filter((f) => f !== POLICY_FINALIZER));
    return {};
  }
  const prev: KeyPolicyStatus = p.ok ? (p.value.status ?? {}) : {};
  let next = policyStatus(meta.name, meta.generation, prev, p.ok ? undefined : p.message, members, deleting ? { users } : undefined, d.now);
  // without OpenRouter (or a readable spec) the guardrail is reported as it was last seen
  const seen = { models: prev.models, guardrail: prev.guardrail };
  // (a policy waiting for its members to go still restricts their keys, which keep working meanwhile)
  if (p.ok && d.guardrail) {
    const g = await syncGuardrail(p.value, prev.guardrail, policyKeys(meta.name, members, d.keyExists), d.guardrail);
    seen.models = modelsShown(p.value.spec);
    seen.guardrail = g.status;
    next = { ...next, conditions: setCondition(next.conditions, g.condition, meta.generation, d.now) };
    const was = prev.conditions?.find((c) => c.type === g.condition.type);
    if (g.condition.status === 'False' && (was?.status !== 'False' || was.reason !== g.condition.reason)) {
      await d.recorder.warn({ kind: 'KeyPolicy', metadata: meta }, g.condition.reason, g.condition.message);
    }
  }
  next = { ...next, ...(seen.models === undefined ? {} : { models: seen.models }), ...(seen.guardrail === undefined ? {} : { guardrail: seen.guardrail }) };
  const patch = mergePatch(toJson(p.ok ? p.value.status : p.raw.status), toJson(next));
  if (patch !== undefined) await d.cluster.patchPolicyStatus(meta.name, patch);
  const reapedBefore = prev.inactivity?.disabled ?? 0;
  const reapedNow = next.inactivity?.disabled ?? 0;
  if (reapedNow > reapedBefore) {
    await d.recorder.normal({ kind: 'KeyPolicy', metadata: meta }, 'KeysReaped', `${reapedNow} member key(s) disabled for inactivity (${next.inactivity?.deleted ?? 0} deleted): ${(next.inactivity?.members ?? []).join(', ')}`);
  }
  const was = prev.conditions?.find((c) => c.type === 'Ready')?.reason;
  if (deleting && was !== 'InUse') {
    await d.recorder.warn({ kind: 'KeyPolicy', metadata: meta }, 'DeletionBlocked', inUseMessage(users));
  }
  return {};
}
