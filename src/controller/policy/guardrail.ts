/**
 * The one guardrail a policy owns at OpenRouter: created on first need (found again by its name after a lost
 * answer), kept equal to the spec through the canonical form OpenRouter reports, holding every member key of the
 * policy, and deleted when the policy no longer restricts anything. An idle pass reads only the book.
 */
import type { GuardrailStatus, KeyPolicy } from '../../api/schema.ts';
import { sameRules, type Guardrail, type GuardrailPort } from '../../domain/guardrail.ts';
import { OpenRouterError, goneIsDone, isOpenRouter } from '../../openrouter/errors.ts';
import type { ConditionInput } from '../conditions.ts';
import type { EventReason } from '../reasons.ts';
import type { Recorder } from '../events.ts';
import type { GuardrailBook } from '../guardrailbook.ts';
import type { GuardrailFor } from '../member/deps.ts';
import { desiredRules, guardrailName, recordedRules, reportedRules, rulesFingerprint } from './rules.ts';

export interface GuardrailDeps {
  guardrails: GuardrailPort;
  book: GuardrailBook;
  /** this operator's id (controller/identity.ts): part of its guardrails' names */
  clusterId: string;
  workspaceId: (policy: KeyPolicy) => Promise<string | undefined>;
  /** lists our guardrails and their keys now (before a create: a lost answer's guardrail is found, not made twice) */
  refresh: () => Promise<void>;
  recorder: Pick<Recorder, 'normal' | 'warn'>;
  now: () => string;
}

export interface GuardrailOutcome {
  status: GuardrailStatus | undefined;
  /** GuardrailSynced; False only when OpenRouter refused the rules (also a Warning Event of that reason) */
  condition: ConditionInput & ({ status: 'True'; reason: 'NotNeeded' | 'Synced' } | { status: 'False'; reason: Extract<EventReason, 'GuardrailRejected'> });
}

const CONDITION = 'GuardrailSynced';

/** The guardrail a policy's new keys get, from the book: none wanted, this one, or not created yet. */
export function guardrailFor(book: GuardrailBook, clusterId: string, policy: KeyPolicy): GuardrailFor {
  if (!desiredRules(policy.spec)) return { kind: 'none' };
  const g = book.byName(guardrailName(clusterId, policy.metadata.name));
  return g ? { kind: 'ready', id: g.id } : { kind: 'pending' };
}

/**
 * Brings the policy's guardrail to its spec and assigns it every key in `keys` (the policy's members' active and
 * draining keys that exist). OpenRouter refusing the rules (400) is reported in the condition; anything else throws.
 */
export async function syncGuardrail(policy: KeyPolicy, prev: GuardrailStatus | undefined, keys: readonly string[], d: GuardrailDeps): Promise<GuardrailOutcome> {
  const want = desiredRules(policy.spec);
  const name = guardrailName(d.clusterId, policy.metadata.name);
  if (!want) {
    await deleteGuardrails(policy, prev, d);
    return { status: undefined, condition: { type: CONDITION, status: 'True', reason: 'NotNeeded', message: 'the policy restricts no model or provider: no guardrail' } };
  }
  if (!d.book.refreshed) await d.refresh();
  const regarding = { kind: 'KeyPolicy' as const, metadata: policy.metadata };
  const fingerprint = rulesFingerprint(want);
  let g: Guardrail;
  let settled = false;
  const drift: string[] = [];
  let misplaced: Guardrail | undefined;
  try {
    const found = await find(prev, name, d);
    if (found && !(await filedWhereWanted(found, policy, d))) misplaced = found;
    if (found && !misplaced) {
      g = found;
      // what was last applied: this process's own record first (the cached status may lag behind it), else status
      const mine = d.book.lastApplied(g.id);
      const last = mine ?? (prev?.id === g.id ? { fingerprint: prev.applied, reported: recordedRules(prev) } : undefined);
      // a difference is drift only when the spec is still the one applied; a changed spec explains it
      const outside = last !== undefined && last.fingerprint === fingerprint && !sameRules(g, last.reported);
      // (keys found unassigned count as drift only on a guardrail that was already as the spec asks)
      settled = last?.fingerprint === fingerprint;
      if (last?.fingerprint !== fingerprint || outside) {
        g = await d.guardrails.update(g.id, want);
        d.book.markApplied(g.id, fingerprint, g);
        if (outside) drift.push(await drifted(regarding, `guardrail ${g.id} was edited outside teamkeys; restored it to the policy`, d));
        else await d.recorder.normal(regarding, 'GuardrailUpdated', `applied the policy to guardrail ${g.id}`);
      }
    } else {
      g = await d.guardrails.create(name, `Managed by teamkeys for KeyPolicy ${policy.metadata.name}; edits are reverted.`, await d.workspaceId(policy), want);
      d.book.markApplied(g.id, fingerprint, g);
      if (misplaced) await d.recorder.normal(regarding, 'GuardrailMoved', `the policy's workspace changed: created guardrail ${g.id} there; ${misplaced.id} goes once the keys are assigned to it`);
      else if (prev) drift.push(await drifted(regarding, `guardrail ${prev.id} was deleted outside teamkeys; created ${g.id} in its place`, d));
      else await d.recorder.normal(regarding, 'GuardrailCreated', `created guardrail ${g.id}`);
    }
  } catch (e) {
    if (!(e instanceof OpenRouterError) || e.kind !== 'badRequest') throw e;
    return { status: prev, condition: { type: CONDITION, status: 'False', reason: 'GuardrailRejected', message: `OpenRouter refused the guardrail: ${e.message}` } };
  }
  const unassigned = await assign(regarding, g, keys, settled, d);
  if (unassigned) drift.push(unassigned);
  // one guardrail per policy: a twin (a create retried after a lost answer) or the one left in the workspace the
  // policy moved from goes, once the keys are on this one (deleting a guardrail frees its keys of every rule)
  const others = new Set([...d.book.allNamed(name), ...(misplaced ? [misplaced] : [])].map((o) => o.id));
  others.delete(g.id);
  for (const id of others) {
    // a key a member pass assigned to it meanwhile is this policy's too: onto the one that stays first
    const stranded = [...d.book.assignedKeys(id)];
    if (stranded.length > 0) await d.guardrails.assign(g.id, stranded);
    await goneIsDone(d.guardrails.delete(id));
  }
  const assigned = keys.filter((h) => d.book.guardrailOfKey(h) === g.id).length;
  // the last drift corrected stays in status (and the condition), not only in an Event that expires
  const lastDrift = drift.length > 0 ? { at: d.now(), what: drift.join('; ') } : prev?.lastDrift;
  const status: GuardrailStatus = { id: g.id, name: g.name, applied: fingerprint, ...reportedRules(g), assignedKeys: assigned, keys: keys.length, ...(lastDrift ? { lastDrift } : {}) };
  const since = lastDrift ? `; last drift corrected at ${lastDrift.at}: ${lastDrift.what}` : '';
  return { status, condition: { type: CONDITION, status: 'True', reason: 'Synced', message: `guardrail ${g.id} enforces the policy on ${assigned} of ${keys.length} member keys${since}` } };
}

/**
 * Whether the guardrail is in the workspace the policy files it in: the one spec.workspace names, else the default
 * one (not a named workspace the policy's status records, which the policy has moved away from). A workspace that
 * cannot be resolved now leaves it where it is.
 */
async function filedWhereWanted(g: Guardrail, policy: KeyPolicy, d: GuardrailDeps): Promise<boolean> {
  if (policy.spec.workspace === undefined) {
    const s = policy.status;
    const named = [...(s?.workspace ? [s.workspace] : []), ...(s?.formerWorkspaces ?? [])].filter((w) => !w.owned).map((w) => w.id);
    return g.workspaceId === undefined || !named.includes(g.workspaceId);
  }
  try {
    return g.workspaceId === (await d.workspaceId(policy));
  } catch {
    return true;
  }
}

/** The policy's guardrail: the one status names, else one of its name; a 404 alone proves status's is gone. */
async function find(prev: GuardrailStatus | undefined, name: string, d: GuardrailDeps): Promise<Guardrail | undefined> {
  const known = (prev && d.book.get(prev.id)) ?? d.book.byName(name);
  if (known) return known;
  if (prev) {
    try {
      return await d.guardrails.get(prev.id);
    } catch (e) {
      if (!isOpenRouter(e, 'notFound')) throw e;
    }
  }
  // nothing known: list again before creating, so a guardrail whose create answer was lost is adopted
  await d.refresh();
  return d.book.byName(name);
}

/** Assigns the keys not on the guardrail in bulk (pages of 100), saying which were moved and which had drifted. */
async function assign(regarding: Pick<KeyPolicy, 'kind' | 'metadata'>, g: Guardrail, keys: readonly string[], settled: boolean, d: GuardrailDeps): Promise<string | undefined> {
  const missing = keys.filter((h) => d.book.guardrailOfKey(h) !== g.id);
  if (missing.length === 0) return undefined;
  const moved = missing.filter((h) => {
    const was = d.book.guardrailOfKey(h);
    return was !== undefined && d.book.get(was) !== undefined;
  }).length;
  await d.guardrails.assign(g.id, missing);
  if (moved > 0 || !settled) await d.recorder.normal(regarding, 'GuardrailAssigned', `assigned ${missing.length} member key(s) to guardrail ${g.id}${moved > 0 ? ` (${moved} moved from another guardrail)` : ''}`);
  const outside = missing.length - moved;
  if (!settled || outside === 0) return undefined;
  return drifted(regarding, `${outside} member key(s) were not assigned to guardrail ${g.id} (unassigned or reassigned outside teamkeys); assigned them again`, d);
}

async function drifted(regarding: Pick<KeyPolicy, 'kind' | 'metadata'>, what: string, d: Pick<GuardrailDeps, 'recorder'>): Promise<string> {
  await d.recorder.warn(regarding, 'GuardrailDrift', what);
  return what;
}

/** Deletes the policy's guardrail(s): the one status names and any of its name. */
export async function deleteGuardrails(policy: KeyPolicy, prev: GuardrailStatus | undefined, d: GuardrailDeps): Promise<void> {
  if (!d.book.refreshed) await d.refresh();
  const ids = new Set(d.book.allNamed(guardrailName(d.clusterId, policy.metadata.name)).map((g) => g.id));
  if (prev) ids.add(prev.id);
  for (const id of ids) await d.guardrails.delete(id);
  if (prev) await d.recorder.normal({ kind: 'KeyPolicy', metadata: policy.metadata }, 'GuardrailDeleted', `deleted guardrail ${prev.id}`);
}

/** Pure: the guardrails (all ours: the book lists only our prefix) that no existing policy has by name. */
export function strayGuardrails(guardrails: readonly Guardrail[], clusterId: string, policies: readonly string[]): Guardrail[] {
  const wanted = new Set(policies.map((p) => guardrailName(clusterId, p)));
  return guardrails.filter((g) => !wanted.has(g.name));
}

/**
 * Deletes this operator's guardrails whose policy is gone. Each operator serving a policy deletes its own guardrail
 * when the policy is deleted, but only one of them removes the policy's finalizer: the others see the policy gone
 * (its delete event, or the next listing after a restart) and delete theirs here. `policies` must come from a
 * synced cache: every policy that exists, readable or not.
 */
export async function deleteStrayGuardrails(policies: readonly string[], d: GuardrailDeps): Promise<string[]> {
  if (!d.book.refreshed) await d.refresh();
  const stray = strayGuardrails(d.book.all(), d.clusterId, policies);
  for (const g of stray) await d.guardrails.delete(g.id);
  return stray.map((g) => g.name);
}
