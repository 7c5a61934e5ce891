/**
 * Pure: a policy served by several operators (sharding one cluster with --namespace-selector, on one OpenRouter
 * account or several). Each operator keeps its own guardrail and its own entry in status.operators, keyed by its
 * id, and writes only that entry: a JSON merge patch changes one key of a map and leaves the others alone, so two
 * operators never overwrite each other. What the policy shows at the top (members, spend, Ready, GuardrailSynced)
 * is computed by each of them the same way from what all of them see, so they agree and an idle pass writes nothing.
 */
import { POLICY_OPERATORS_MAX, type GuardrailStatus, type KeyPolicyStatus, type PolicyOperatorStatus } from '../../api/schema.ts';
import type { ConditionInput } from '../conditions.ts';
import { guardrailName } from './rules.ts';

type Operators = NonNullable<KeyPolicyStatus['operators']>;

/**
 * The operators' entries with this operator's set; unchanged when the map is full and holds no entry of ours
 * (the CRD allows POLICY_OPERATORS_MAX: the guardrail still works, it is just not reported).
 */
export function withEntry(ops: Operators | undefined, id: string, entry: PolicyOperatorStatus, max = POLICY_OPERATORS_MAX): { operators: Operators; full: boolean } {
  const all = ops ?? {};
  if (!Object.hasOwn(all, id) && Object.keys(all).length >= max) return { operators: all, full: true };
  return { operators: { ...all, [id]: entry }, full: false };
}

/**
 * The guardrail this operator last reported: its own entry's, or (status written before entries existed) the
 * policy's top-level one when it carries this operator's guardrail name, never another operator's.
 */
export function ownGuardrail(status: KeyPolicyStatus, id: string, policy: string): GuardrailStatus | undefined {
  const entry = status.operators?.[id];
  if (entry) return entry.guardrail;
  const top = status.guardrail;
  return top && top.name === guardrailName(id, policy) ? top : undefined;
}

/**
 * Whether an operator speaks for a policy: every one when it manages every namespace; scoped, one its members use,
 * or one whose status keeps its entry (its members used it: keys and a guardrail of theirs may remain), or whose
 * entries are full without its own (it could not record one, and must not lose sight of what it made).
 */
export function speaksFor(policy: string, status: KeyPolicyStatus | undefined, id: string, scoped: boolean, usedByMine: ReadonlySet<string>): boolean {
  if (!scoped || usedByMine.has(policy)) return true;
  const ops = status?.operators ?? {};
  return Object.hasOwn(ops, id) || Object.keys(ops).length >= POLICY_OPERATORS_MAX;
}

/** How much of each operator's message the summary quotes when several report. */
const QUOTED = 500;

/**
 * What the policy shows at the top, from every operator's entry: GuardrailSynced False when any operator's is
 * (the first by id, and which), else True (NotNeeded when every one says so); the guardrail itself while one
 * operator serves the policy. No entry with a condition: undefined (the condition stays as it was last seen).
 */
export function summary(ops: Operators | undefined): { condition: ConditionInput | undefined; guardrail: GuardrailStatus | undefined } {
  const ids = Object.keys(ops ?? {}).toSorted();
  const guardrail = ids.length === 1 ? ops?.[ids[0] ?? '']?.guardrail : undefined;
  const reporting = ids.flatMap((id) => {
    const c = ops?.[id]?.guardrailSynced;
    return c ? [{ id, c }] : [];
  });
  if (reporting.length === 0) return { condition: undefined, guardrail };
  const quote = (l: typeof reporting) => (reporting.length === 1 ? (l[0]?.c.message ?? '') : l.map(({ id, c }) => `operator ${id}: ${c.message.slice(0, QUOTED)}`).join('; '));
  const failing = reporting.filter(({ c }) => c.status !== 'True');
  if (failing.length > 0) {
    const first = failing[0]?.c;
    return { condition: { type: 'GuardrailSynced', status: first?.status ?? 'False', reason: first?.reason ?? 'Unknown', message: quote(failing) }, guardrail };
  }
  const reason = reporting.every(({ c }) => c.reason === 'NotNeeded') ? 'NotNeeded' : 'Synced';
  return { condition: { type: 'GuardrailSynced', status: 'True', reason, message: quote(reporting) }, guardrail };
}
