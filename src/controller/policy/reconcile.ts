import type { Parsed } from '../../api/objects.ts';
import { resolvePolicy } from '../../api/policy.ts';
import { POLICY_FINALIZER, POLICY_MODELS_MAX, POLICY_SELECTOR_MAX, type Condition, KeyPolicyStatus, type KeyPolicy, type PolicyOperatorStatus, type TeamMember } from '../../api/schema.ts';
import type { Cluster } from '../../kube/cluster.ts';
import { toJson } from '../../util/json.ts';
import { usdShown } from '../../util/money.ts';
import { isTrue, setCondition, withoutCondition } from '../conditions.ts';
import { POLICY_PAUSED, isPaused } from '../pause.ts';
import { deleteWorkspace, tendWorkspaces, type PoolDeps } from './pool.ts';
import { poolStatus } from './poolstatus.ts';
import type { Recorder } from '../events.ts';
import type { Result } from '../failure.ts';
import { mergePatch } from '../mergepatch.ts';
import { deleteGuardrails, syncGuardrail, type GuardrailDeps } from './guardrail.ts';
import { ownGuardrail, summary, withEntry } from './operators.ts';
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
  // in one order whatever the cache's: operators serving the policy add the same sums the same way (floating point)
  // (each id built once: a comparator building them costs four strings per comparison, at 10,000 members)
  const using = members.filter((m) => m.spec.policy === name && !m.metadata.deletionTimestamp).map((m) => ({ id: `${m.metadata.namespace ?? ''}/${m.metadata.name}`, m }))
    .toSorted((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map((e) => e.m);
  const ready = using.filter((m) => isTrue(m.status?.conditions, 'Ready'));
  const spend = usdShown(using.reduce((sum, m) => sum + (m.status?.usage?.windowUSD ?? 0), 0));
  const conditions: Condition[] = setCondition(withoutCondition(prev.conditions, 'Paused'), deleting
    ? { type: 'Ready', status: 'False', reason: 'InUse', message: inUseMessage(deleting.users) }
    : invalid === undefined
      ? { type: 'Ready', status: 'True', reason: 'Accepted', message: `${ready.length} of ${using.length} members ready` }
      : { type: 'Ready', status: 'False', reason: 'InvalidSpec', message: invalid }, generation, now);
  const inactive = using.filter((m) => m.status?.inactive);
  const reaped = inactive.length === 0 ? undefined : {
    disabled: inactive.length,
    deleted: inactive.filter((m) => m.status?.inactive?.keyDeleted).length,
    members: inactive.map((m) => `${m.metadata.namespace ?? ''}/${m.metadata.name}`).toSorted().slice(0, 20),
  };
  const models = new Map<string, { usd: number; requests: number }>();
  for (const m of using) addModels(models, m.status?.usage?.models);
  const analyzed = using.some((m) => m.status?.usage?.requests !== undefined);
  return {
    observedGeneration: generation, conditions, members: using.length, readyMembers: ready.length, spendThisWindowUSD: spend,
    ...(analyzed ? {
      requestsThisWindow: using.reduce((sum, m) => sum + (m.status?.usage?.requests ?? 0), 0),
      spendByModel: rankModels(models, POLICY_MODELS_MAX),
    } : {}),
    forecastExhausting: using.filter((m) => isTrue(m.status?.conditions, 'BudgetForecast')).length,
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
  /** this operator's id (controller/identity.ts): its entry in status.operators, its guardrail's name */
  operator: string;
  /** its --namespace-selector as given, shown in its entry; undefined: every namespace */
  selector: string | undefined;
  /** undefined while the management key is not valid: OpenRouter cannot be reached */
  guardrail: GuardrailDeps | undefined;
  /** undefined while the management key is not valid, as above */
  pool: PoolDeps | undefined;
  keyExists: (hash: string) => boolean;
}

/** How long a deleted policy waits for a working management key to delete its guardrail. */
const CREDENTIALS_WAIT_MS = 30_000;

/**
 * In-use protection, as Kubernetes protects a PersistentVolumeClaim: the policy carries a finalizer; deleted while
 * members use it, it waits (status says which) so one mistaken delete never cuts off a tier; it goes when the last
 * one has.
 *
 * `members` are every readable member in the cluster (what the top of the status counts, the same for every
 * operator); `mine` those in the namespaces this operator manages (its entry, and the keys its guardrail holds).
 * Another operator serving the policy keeps its own guardrail and entry: this one deletes only its own guardrail
 * (the others delete theirs when they see the policy gone, see strayGuardrails).
 */
export async function reconcilePolicy(p: NonNullable<Parsed<KeyPolicy>>, members: readonly TeamMember[], mine: readonly TeamMember[], users: readonly string[], d: PolicyDeps): Promise<Result> {
  const obj = p.ok ? p.value : p.raw;
  const meta = obj.metadata;
  const finalizers = meta.finalizers ?? [];
  const deleting = meta.deletionTimestamp !== undefined;
  if (!deleting && !finalizers.includes(POLICY_FINALIZER)) {
    await d.cluster.setPolicyFinalizers(meta.name, meta.resourceVersion ?? '', [...finalizers, POLICY_FINALIZER]);
    return {}; // the update event brings it back with its finalizer
  }
  // (a spec that does not parse leaves the status readable: other operators' entries must stay as they are)
  const prev: KeyPolicyStatus = p.ok ? (p.value.status ?? {}) : (KeyPolicyStatus.safeParse(p.raw.status ?? {}).data ?? {});
  const ours = ownGuardrail(prev, d.operator, meta.name);
  if (deleting && users.length === 0) {
    if (p.ok && finalizers.includes(POLICY_FINALIZER)) {
      if (!d.guardrail) return { requeueAfterMs: CREDENTIALS_WAIT_MS };
      await deleteGuardrails(p.value, ours, d.guardrail);
      if (owned(prev).length > 0) {
        if (!d.pool) return { requeueAfterMs: CREDENTIALS_WAIT_MS };
        await releaseOwned(p.value, prev, d.pool);
      }
    }
    if (finalizers.includes(POLICY_FINALIZER)) await d.cluster.setPolicyFinalizers(meta.name, meta.resourceVersion ?? '', finalizers.filter((f) => f !== POLICY_FINALIZER));
    return {};
  }
  // paused: its guardrail and entry stay as they are; the status only says so (deletion above still goes on)
  if (!deleting && isPaused(obj)) {
    const paused = { ...prev, conditions: setCondition(prev.conditions, POLICY_PAUSED, meta.generation, d.now) };
    const patch = mergePatch(toJson(p.ok ? p.value.status : p.raw.status), toJson(paused));
    if (patch !== undefined) await d.cluster.patchPolicyStatus(meta.name, patch);
    return {};
  }
  let next = policyStatus(meta.name, meta.generation, prev, p.ok ? undefined : p.message, members, deleting ? { users } : undefined, d.now);
  // this operator's entry; without OpenRouter (or a readable spec) its guardrail is reported as it was last seen
  const was = prev.operators?.[d.operator];
  let guardrail = ours;
  let synced = was?.guardrailSynced;
  let models = prev.models;
  // (a policy waiting for its members to go still restricts their keys, which keep working meanwhile)
  if (p.ok && d.guardrail) {
    const g = await syncGuardrail(p.value, ours, policyKeys(meta.name, mine, d.keyExists), d.guardrail);
    models = modelsShown(p.value.spec);
    guardrail = g.status;
    synced = setCondition(synced ? [synced] : [], g.condition, meta.generation, d.now)[0];
    const before = was?.guardrailSynced ?? prev.conditions?.find((c) => c.type === g.condition.type);
    if (g.condition.status === 'False' && (before?.status !== 'False' || before.reason !== g.condition.reason)) {
      await d.recorder.warn({ kind: 'KeyPolicy', metadata: meta }, g.condition.reason, g.condition.message);
    }
  }
  const entry: PolicyOperatorStatus = {
    ...(d.selector === undefined ? {} : { namespaceSelector: d.selector.length <= POLICY_SELECTOR_MAX ? d.selector : `${d.selector.slice(0, POLICY_SELECTOR_MAX - 1)}…` }),
    members: mine.filter((m) => m.spec.policy === meta.name && !m.metadata.deletionTimestamp).length,
    ...(guardrail ? { guardrail } : {}),
    ...(synced ? { guardrailSynced: synced } : {}),
  };
  const { operators } = withEntry(prev.operators, d.operator, entry);
  const shown = summary(operators);
  next = {
    ...next,
    ...(shown.condition ? { conditions: setCondition(next.conditions, shown.condition, meta.generation, d.now) } : {}),
    ...(models === undefined ? {} : { models }),
    ...(shown.guardrail === undefined ? {} : { guardrail: shown.guardrail }),
    operators,
  };
  next = p.ok ? await withPool(p.value, next, prev, members, deleting, d) : { ...next, ...keptPool(prev) };
  const patch = mergePatch(toJson(p.ok ? p.value.status : p.raw.status), toJson(next));
  if (patch !== undefined) await d.cluster.patchPolicyStatus(meta.name, patch);
  // the operators serving a policy compute the same status: the one whose write made the change tells of it
  if (patch === undefined) return {};
  const reapedBefore = prev.inactivity?.disabled ?? 0;
  const reapedNow = next.inactivity?.disabled ?? 0;
  if (reapedNow > reapedBefore) {
    await d.recorder.normal({ kind: 'KeyPolicy', metadata: meta }, 'KeysReaped', `${reapedNow} member key(s) disabled for inactivity (${next.inactivity?.deleted ?? 0} deleted): ${(next.inactivity?.members ?? []).join(', ')}`);
  }
  for (const type of ['Pool', 'PoolBudget']) {
    const before = prev.conditions?.find((c) => c.type === type);
    const now = next.conditions?.find((c) => c.type === type);
    if (!now || (before?.reason === now.reason && before.status === now.status)) continue;
    if (now.reason === 'NearLimit') await d.recorder.warn({ kind: 'KeyPolicy', metadata: meta }, 'PoolWarning', now.message);
    else if (now.reason === 'Exhausted') await d.recorder.warn({ kind: 'KeyPolicy', metadata: meta }, 'PoolExhausted', now.message);
    else if (type === 'Pool' && now.status === 'False') await d.recorder.warn({ kind: 'KeyPolicy', metadata: meta }, poolProblem(now.reason), now.message);
  }
  const ready = prev.conditions?.find((c) => c.type === 'Ready')?.reason;
  if (deleting && ready !== 'InUse') {
    await d.recorder.warn({ kind: 'KeyPolicy', metadata: meta }, 'DeletionBlocked', inUseMessage(users));
  }
  return {};
}

/** The workspace, pool and their conditions in the policy's status (as they were while OpenRouter is out of reach). */
async function withPool(policy: KeyPolicy, next: KeyPolicyStatus, prev: KeyPolicyStatus, members: readonly TeamMember[], deleting: boolean, d: PolicyDeps): Promise<KeyPolicyStatus> {
  const r = resolvePolicy(policy);
  const out = d.pool && !deleting ? await tendWorkspaces(policy, r, prev, d.pool) : undefined;
  const using = members.filter((m) => m.spec.policy === policy.metadata.name && !m.metadata.deletionTimestamp);
  // a pool another policy sets is not this one's to show (without OpenRouter, as the last pass found it)
  const conflicted = (out ? out.condition : prev.conditions?.find((c) => c.type === 'Pool'))?.reason === 'PoolConflict';
  const pooled = conflicted ? undefined : poolStatus(r, using);
  const workspace = out ? out.workspace : prev.workspace;
  const former = out ? out.formerWorkspaces : (prev.formerWorkspaces ?? []);
  const poolCondition = out ? out.condition : prev.conditions?.find((c) => c.type === 'Pool');
  let conditions = poolCondition ? setCondition(next.conditions, poolCondition, policy.metadata.generation, d.now) : withoutCondition(next.conditions, 'Pool');
  conditions = pooled ? setCondition(conditions, pooled.condition, policy.metadata.generation, d.now) : withoutCondition(conditions, 'PoolBudget');
  return {
    ...next,
    ...(conditions ? { conditions } : {}),
    ...(workspace ? { workspace } : {}),
    ...(former.length > 0 ? { formerWorkspaces: former } : {}),
    ...(pooled ? { pool: pooled.status } : {}),
  };
}

/** A policy whose spec cannot be read keeps what its status said of its workspaces. */
function keptPool(prev: KeyPolicyStatus): Partial<KeyPolicyStatus> {
  return { ...(prev.workspace ? { workspace: prev.workspace } : {}), ...(prev.formerWorkspaces ? { formerWorkspaces: prev.formerWorkspaces } : {}), ...(prev.pool ? { pool: prev.pool } : {}) };
}

const owned = (s: KeyPolicyStatus) => [...(s.workspace ? [s.workspace] : []), ...(s.formerWorkspaces ?? [])].filter((w) => w.owned);

/**
 * A deleted policy's owned workspaces go once they are empty (by the last listing, or asked now); one still holding
 * keys (kept by deletionPolicy Disable or Retain, or another operator's) stays, said once.
 */
async function releaseOwned(policy: KeyPolicy, prev: KeyPolicyStatus, d: PoolDeps): Promise<void> {
  for (const w of owned(prev)) {
    // (a listing's "yes" may be stale: another operator's members may have left since; asked again)
    const holds = d.holdsKeys(w.id) === false ? false : await d.listsKeys(w.id);
    if (holds) await d.recorder.normal(policy, 'WorkspaceKept', `workspace ${w.ref} still holds keys (kept by deletionPolicy, or not this operator's): it is left in place`);
    else await deleteWorkspace(w, d, policy);
  }
}

/** The Event of a Pool condition turning False: its reason. */
function poolProblem(reason: string): 'PoolConflict' | 'PoolRejected' | 'WorkspaceNotReady' {
  return reason === 'PoolConflict' || reason === 'PoolRejected' ? reason : 'WorkspaceNotReady';
}
