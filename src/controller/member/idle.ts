/**
 * The inactivity step of a member reconcile: records when spend last moved, disables a key idle for too long
 * (converge does, from status.inactive), deletes it when the policy says so, and brings it back on a deliberate
 * act: a new teamkeys.dev/reactivate annotation value, or any change to the member's spec. Every change of state
 * is written before the next step reads a fresh status.
 */
import { ANNOTATION_REACTIVATE, type KeyPolicy } from '../../api/schema.ts';
import { retiredFromKey, withRetired } from './carry.ts';
import type { MemberContext } from './context.ts';
import type { DesiredBudget } from './desired.ts';
import { idleState, nextActivity, reactivationAsked } from './inactivity.ts';

export async function tendInactivity(c: MemberContext, policy: KeyPolicy, budget: DesiredBudget): Promise<void> {
  const d = c.d;
  const now = new Date(c.now()).toISOString();
  const key = c.status.key;
  const observed = key ? d.book.get(key.hash) : undefined;
  let activity = nextActivity(c.status.activity, key, observed, now);
  const asked = c.m.metadata.annotations?.[ANNOTATION_REACTIVATE];
  const was = c.status.inactive;
  // a deliberate act: a new annotation value, or any change to the member's spec (resuming it, say)
  const annotated = reactivationAsked(asked, activity);
  const edited = was?.generation !== undefined && c.m.metadata.generation !== was.generation;
  if (annotated || edited) {
    activity = { lastSpendAt: now, keyHash: activity?.keyHash ?? key?.hash ?? '', lifetimeUSD: activity?.lifetimeUSD ?? 0, ...(asked ? { reactivation: asked } : {}) };
    await c.patchStatus({ ...c.status, activity, inactive: undefined });
    const by = annotated ? `${ANNOTATION_REACTIVATE}=${asked ?? ''}` : 'the spec changed';
    if (was) await d.recorder.normal(c.m, 'KeyReactivated', `reactivated (${by}): ${was.keyDeleted ? 'a new key is issued' : 'the key is enabled again'}`);
    return;
  }
  const state = idleState(policy.spec.inactivity, activity, c.now());
  if (state === 'active') {
    // spend moving is written with the usage it comes with (report); only leaving inactivity is written now
    // (the policy dropped or lengthened it: a deliberate change, so the member is active again)
    if (c.status.inactive) await c.patchStatus({ ...c.status, activity, inactive: undefined });
    else c.status = { ...c.status, activity };
    return;
  }
  const gen = c.m.metadata.generation;
  const inactive = { since: was?.since ?? now, keyDeleted: was?.keyDeleted ?? false, ...(gen === undefined ? {} : { generation: was?.generation ?? gen }) };
  if (state === 'delete' && key) {
    // record, then act: the intent and the key's spend (read fresh) are written before the delete, so a retry
    // after a delete that landed but answered an error (the key is gone: a 404) still counts what it spent
    // against the member's limit when a new key is issued. A crash after it deletes again (a 404 counts as deleted)
    inactive.keyDeleted = true;
    const fresh = await c.freshKey(key.hash);
    const retiredKeys = fresh ? withRetired(c.status.budget?.retiredKeys ?? [], retiredFromKey(fresh, c.now()), c.now()) : c.status.budget?.retiredKeys;
    await c.patchStatus({ ...c.status, activity, inactive, budget: { ...(c.status.budget ?? { reset: budget.reset }), ...(retiredKeys ? { retiredKeys } : {}) } });
    await d.keys.delete(key.hash);
    d.book.remove(key.hash);
    await c.patchStatus({ ...c.status, key: undefined });
    await d.recorder.warn(c.m, 'InactiveKeyDeleted', `deleted key ${key.label}: no spend since ${activity?.lastSpendAt ?? ''} (inactivity.deleteAfter ${policy.spec.inactivity?.deleteAfter ?? ''}); annotate ${ANNOTATION_REACTIVATE}=<new value> for a new key`);
    return;
  }
  if (c.status.inactive) c.status = { ...c.status, activity, inactive };
  else await c.patchStatus({ ...c.status, activity, inactive });
}

/** The Ready outcome of an inactive member. */
export function inactiveMessage(c: MemberContext, policy: KeyPolicy): string {
  const since = c.status.activity?.lastSpendAt ?? '';
  const what = c.status.inactive?.keyDeleted ? 'the key is deleted' : 'the key is disabled';
  return `no spend since ${since} (policy inactivity.disableAfter ${policy.spec.inactivity?.disableAfter ?? ''}): ${what}; kubectl annotate tm ${c.m.metadata.name} ${ANNOTATION_REACTIVATE}=<new value> brings it back`;
}
