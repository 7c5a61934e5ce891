/**
 * A policy's workspace and pooled budget: the workspace its keys go to (spec.workspace, or one the operator
 * creates and owns for a pool), the workspaces it moved away from (kept in view until they hold no key, an owned
 * one then deleted), and spec.pool set as the workspace's budgets, which OpenRouter enforces before any key's
 * own limit. One policy sets a workspace's budgets: of several pooling one workspace, the oldest.
 */
import type { ResolvedPolicy } from '../../api/policy.ts';
import { FORMER_WORKSPACES_MAX, POOL_WINDOW_NAMES, type KeyPolicy, type KeyPolicyStatus, type PolicyWorkspace, type PoolWindow } from '../../api/schema.ts';
import type { WorkspaceBudget, WorkspaceBudgets, Workspaces } from '../../domain/workspace.ts';
import { isOpenRouter } from '../../openrouter/errors.ts';
import type { ResetPeriod } from '../../util/windows.ts';
import { errorMessage } from '../../util/errors.ts';
import type { ConditionInput } from '../conditions.ts';
import type { Recorder } from '../events.ts';

export interface PoolDeps {
  workspaces: Workspaces;
  /** a workspace slug or id to its id (asked once per process) */
  resolve: (ref: string) => Promise<string>;
  /** whether the last complete key listing saw a key in the workspace (undefined: it did not list it) */
  holdsKeys: (workspaceId: string) => boolean | undefined;
  /** asks OpenRouter whether the workspace holds any key (disabled ones too) */
  listsKeys: (workspaceId: string) => Promise<boolean>;
  recorder: Recorder;
  clusterId: string;
  /** every policy, for the one-claimant rule */
  policies: () => readonly KeyPolicy[];
  /** when the last complete key listing began: the budgets are read again once per listing, not per reconcile */
  listing: () => number | undefined;
  /** per policy UID, the budgets last found as wanted (workspace, pool, listing) */
  checked: Map<string, string>;
}

export interface WorkspaceOutcome {
  workspace: PolicyWorkspace | undefined;
  formerWorkspaces: PolicyWorkspace[];
  /** the Pool condition (absent: no pool, and none set before) */
  condition: ConditionInput | undefined;
}

/** The budget windows by OpenRouter's name for them in the port (a lifetime budget is `never`, as for keys). */
const PERIOD: Record<PoolWindow, ResetPeriod> = { daily: 'daily', weekly: 'weekly', monthly: 'monthly', lifetime: 'never' };

/** Ensures the workspace, lets go of the ones left behind, and sets the pool as the workspace's budgets. */
export async function tendWorkspaces(policy: KeyPolicy, r: ResolvedPolicy, prev: KeyPolicyStatus, d: PoolDeps): Promise<WorkspaceOutcome> {
  const target = r.workspace;
  let current: PolicyWorkspace | undefined;
  let condition: ConditionInput | undefined;
  try {
    current = target && (await ensure(policy, target, prev.workspace, d));
  } catch (e) {
    // kept as it was: members keep their keys, and new ones wait for a workspace that exists
    const message = isOpenRouter(e, 'notFound') ? `workspace ${target?.ref ?? ''} does not exist at OpenRouter` : `could not set up workspace ${target?.ref ?? ''}: ${errorMessage(e)}`;
    return { workspace: prev.workspace, formerWorkspaces: prev.formerWorkspaces ?? [], condition: r.pool ? { type: 'Pool', status: 'False', reason: 'WorkspaceNotReady', message } : undefined };
  }
  const former = await letGo(await leftBehind(prev, current, d), d, policy);
  const applied = prev.conditions?.some((c) => c.type === 'Pool' && c.reason === 'Applied') === true;
  if (r.pool && current) condition = await setBudgets(policy, r, current, d);
  else if (applied && prev.workspace && prev.workspace.id === current?.id) {
    // the pool was taken off the policy: the budgets it set go with it (never those of the policy it conflicted with)
    await clearBudgets(prev.workspace.id, d);
  }
  return { workspace: current, formerWorkspaces: former, condition };
}

/** The workspace as it is now: an owned one is created when missing (another operator may just have made it). */
async function ensure(policy: KeyPolicy, target: { ref: string; owned: boolean }, recorded: PolicyWorkspace | undefined, d: PoolDeps): Promise<PolicyWorkspace> {
  if (!target.owned) return { ref: target.ref, id: recorded?.ref === target.ref ? recorded.id : await d.resolve(target.ref), owned: false };
  // looked at again once per key listing: a workspace deleted outside is made again (its keys then move into it)
  const mark = `workspace|${recorded?.id ?? ''}|${d.listing() ?? ''}`;
  if (recorded?.ref === target.ref && recorded.owned && d.checked.get(`${policy.metadata.uid}/workspace`) === mark) return recorded;
  let w = await d.workspaces.get(target.ref);
  if (!w) {
    try {
      w = await d.workspaces.create(`teamkeys ${d.clusterId}/${policy.metadata.name}`.slice(0, 100), target.ref);
      await d.recorder.normal(policy, 'WorkspaceCreated', `created workspace ${target.ref} for the policy's pooled budget`);
    } catch (e) {
      // a slug already taken: created meanwhile by another operator serving the policy
      w = await d.workspaces.get(target.ref);
      if (!w) throw e;
    }
  }
  if (w.id === recorded?.id) d.checked.set(`${policy.metadata.uid}/workspace`, mark);
  return { ref: target.ref, id: w.id, owned: true };
}

/**
 * The workspaces left behind: the one recorded before, if the policy moved, and the ones already waiting. An owned
 * one deleted outside (and so made again) holds nothing to wait for: listing a workspace that is gone would fail.
 */
async function leftBehind(prev: KeyPolicyStatus, current: PolicyWorkspace | undefined, d: PoolDeps): Promise<PolicyWorkspace[]> {
  const out = (prev.formerWorkspaces ?? []).filter((w) => w.id !== current?.id);
  const left = prev.workspace && prev.workspace.id !== current?.id && !out.some((w) => w.id === prev.workspace?.id) ? prev.workspace : undefined;
  if (left && (!left.owned || (await d.workspaces.get(left.id)) !== undefined)) out.push(left);
  // bounded like every list in status: past the bound, the oldest that is not owned goes from view first
  while (out.length > FORMER_WORKSPACES_MAX) {
    const i = out.findIndex((w) => !w.owned);
    out.splice(i >= 0 ? i : 0, 1);
  }
  return out;
}

/**
 * A workspace left behind leaves the view once a complete listing shows no key in it; an owned one is then
 * deleted. One still holding keys (members not moved yet, keys kept by deletionPolicy) stays.
 */
async function letGo(former: PolicyWorkspace[], d: PoolDeps, policy: KeyPolicy): Promise<PolicyWorkspace[]> {
  const kept: PolicyWorkspace[] = [];
  for (const w of former) {
    const holds = d.holdsKeys(w.id);
    // not listed: one that no longer exists (deleted outside) is let go; asked once per key listing
    if (holds === undefined && (await deletedOutside(w, d, policy))) continue;
    if (holds !== false) {
      kept.push(w);
      continue;
    }
    if (w.owned && !(await deleteWorkspace(w, d, policy))) kept.push(w);
  }
  return kept;
}

async function deletedOutside(w: PolicyWorkspace, d: PoolDeps, policy: KeyPolicy): Promise<boolean> {
  const key = `${policy.metadata.uid}/former/${w.id}`;
  const mark = String(d.listing() ?? '');
  if (d.checked.get(key) === mark) return false;
  d.checked.set(key, mark);
  return (await d.workspaces.get(w.id)) === undefined;
}

/** Deletes an owned workspace that holds no key; false when OpenRouter refused (it is tried again later). */
export async function deleteWorkspace(w: PolicyWorkspace, d: PoolDeps, policy: KeyPolicy): Promise<boolean> {
  try {
    await d.workspaces.delete(w.id);
  } catch (e) {
    await d.recorder.warn(policy, 'WorkspaceKept', `workspace ${w.ref} was not deleted: ${errorMessage(e)}`);
    return false;
  }
  await d.recorder.normal(policy, 'WorkspaceDeleted', `deleted workspace ${w.ref}: it holds no key any more`);
  return true;
}

/**
 * The policy that sets a workspace's budgets: of those pooling it (named by slug or by id: the one a policy's status
 * resolved it to), the oldest (then by name).
 */
function claimant(ws: PolicyWorkspace, policies: readonly KeyPolicy[]): KeyPolicy | undefined {
  const pooling = policies.filter((p) => p.spec.pool && p.metadata.deletionTimestamp === undefined && (p.spec.workspace === ws.ref || p.spec.workspace === ws.id || p.status?.workspace?.id === ws.id));
  const at = (p: KeyPolicy) => (p.metadata.creationTimestamp instanceof Date ? p.metadata.creationTimestamp.toISOString() : p.metadata.creationTimestamp ?? '');
  return pooling.toSorted((a, b) => (at(a) < at(b) ? -1 : at(a) > at(b) ? 1 : a.metadata.name < b.metadata.name ? -1 : 1))[0];
}

/** Sets the pool as the workspace's budgets, in an order OpenRouter accepts at every step; answers the Pool condition. */
async function setBudgets(policy: KeyPolicy, r: ResolvedPolicy, ws: PolicyWorkspace, d: PoolDeps): Promise<ConditionInput> {
  const pool = r.pool;
  if (!pool) throw new Error('setBudgets without a pool');
  if (!ws.owned) {
    const first = claimant(ws, d.policies().map((p) => (p.metadata.uid === policy.metadata.uid ? policy : p)));
    if (first && first.metadata.name !== policy.metadata.name) {
      return { type: 'Pool', status: 'False', reason: 'PoolConflict', message: `KeyPolicy ${first.metadata.name} already pools workspace ${ws.ref} (the oldest sets its budgets): this policy's pool is not applied; its keys share that pool` };
    }
  }
  const applied: ConditionInput = { type: 'Pool', status: 'True', reason: 'Applied', message: `workspace ${ws.ref}: ${describe(pool.limits, pool.includeByok)}` };
  // read once per key listing (a budget edited in the dashboard is put back by the next sync), not per reconcile
  const mark = `${ws.id}|${JSON.stringify(pool)}|${d.listing() ?? ''}`;
  if (d.checked.get(policy.metadata.uid) === mark) return applied;
  try {
    const have = await d.workspaces.budgets(ws.id);
    const steps = budgetSteps(have, pool.limits, pool.includeByok);
    for (const s of steps) {
      if (s.limitUSD === undefined) await d.workspaces.deleteBudget(ws.id, PERIOD[s.window]);
      else await d.workspaces.putBudget(ws.id, PERIOD[s.window], s.limitUSD, pool.includeByok);
    }
    if (steps.length > 0) await d.recorder.normal(policy, 'PoolBudgetSet', `set the pooled budget of workspace ${ws.ref}: ${describe(pool.limits, pool.includeByok)}`);
  } catch (e) {
    d.checked.delete(policy.metadata.uid);
    return { type: 'Pool', status: 'False', reason: 'PoolRejected', message: `OpenRouter refused the pooled budget of workspace ${ws.ref}: ${errorMessage(e)}` };
  }
  d.checked.set(policy.metadata.uid, mark);
  return applied;
}

async function clearBudgets(workspaceId: string, d: PoolDeps): Promise<void> {
  const have = await d.workspaces.budgets(workspaceId);
  for (const w of POOL_WINDOW_NAMES) if (have[PERIOD[w]]) await d.workspaces.deleteBudget(workspaceId, PERIOD[w]);
}

const describe = (limits: Partial<Record<PoolWindow, number>>, byok: boolean) =>
  `${POOL_WINDOW_NAMES.flatMap((w) => (limits[w] === undefined ? [] : [`${w} $${limits[w]}`])).join(', ')}${byok ? ' (BYOK counted)' : ''}`;

export interface BudgetStep {
  window: PoolWindow;
  /** undefined: delete the window's budget */
  limitUSD: number | undefined;
}

/**
 * Pure: the calls that take the workspace's budgets to the wanted ones. OpenRouter wants narrower windows lower at
 * every moment: windows going away go first, then those going down (narrowest first), then those going up (widest
 * first). A change of includeByok alone rewrites one window (the flag is the workspace's).
 */
export function budgetSteps(have: WorkspaceBudgets, want: Partial<Record<PoolWindow, number>>, includeByok: boolean): BudgetStep[] {
  const had = (w: PoolWindow): WorkspaceBudget | undefined => have[PERIOD[w]];
  const gone = POOL_WINDOW_NAMES.filter((w) => had(w) !== undefined && want[w] === undefined).map((w) => ({ window: w, limitUSD: undefined }));
  const changed = POOL_WINDOW_NAMES.flatMap((w) => {
    const limit = want[w];
    const was = had(w);
    return limit !== undefined && (was?.limitUSD !== limit || was.includeByok !== includeByok) ? [{ window: w, limitUSD: limit, from: was?.limitUSD }] : [];
  });
  const down = changed.filter((c) => c.from !== undefined && c.limitUSD < c.from);
  const up = changed.filter((c) => !(c.from !== undefined && c.limitUSD < c.from)).toReversed();
  return [...gone, ...down, ...up].map((c) => ({ window: c.window, limitUSD: c.limitUSD }));
}
