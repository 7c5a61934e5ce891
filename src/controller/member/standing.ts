/**
 * Pure: what a member may have, as one first-match chain (deleted > suspended > expired > policy missing or not
 * allowed > limit invalid > inactive > served). Whatever else is wrong, a member that should have no usable key
 * gets none: the checks that protect (offboarding, suspension, expiry) are never shadowed by the ones that only
 * report (a limit above the policy's maximum keeps the key as it is).
 */
import type { BudgetDecision } from './desired.ts';

export interface StandingInput {
  deleting: boolean;
  suspended: boolean;
  /** spec.expiresAt, if set (the member's hard end, on the operator's clock) */
  expiresAt: string | undefined;
  now: number;
  /** the policy as this operator sees it */
  policy: { name: string; found: boolean; allowsNamespace: boolean };
  namespace: string;
  /** the member's budget under its policy (undefined when there is no policy to judge it by) */
  budget: BudgetDecision | undefined;
  /** the key is off for inactivity (policy spec.inactivity) */
  inactive: boolean;
}

export type Standing =
  | { kind: 'deleted' }
  /** no usable key: the key is disabled (and a previous one too), nothing is created or rotated */
  | { kind: 'off'; reason: 'Suspended' | 'Expired' | 'PolicyNotFound' | 'PolicyNotAllowed' | 'Inactive'; message: string }
  /** the key stays exactly as it is (no create, no rotation, no change of limit) until the spec is fixed */
  | { kind: 'frozen'; reason: 'LimitAboveMax'; message: string }
  | { kind: 'served' };

export function expiredAt(expiresAt: string | undefined, now: number): boolean {
  return expiresAt !== undefined && Date.parse(expiresAt) <= now;
}

export function standing(i: StandingInput): Standing {
  if (i.deleting) return { kind: 'deleted' };
  if (i.suspended) return { kind: 'off', reason: 'Suspended', message: 'spec.suspended is true: the key is disabled' };
  if (expiredAt(i.expiresAt, i.now)) return { kind: 'off', reason: 'Expired', message: `the member's expiresAt ${i.expiresAt ?? ''} has passed` };
  if (!i.policy.found) return { kind: 'off', reason: 'PolicyNotFound', message: `spec.policy: KeyPolicy "${i.policy.name}" does not exist` };
  if (!i.policy.allowsNamespace) return { kind: 'off', reason: 'PolicyNotAllowed', message: `spec.policy: KeyPolicy "${i.policy.name}" does not allow namespace "${i.namespace}" (see its spec.namespaceSelector)` };
  if (i.budget && !i.budget.ok) return { kind: 'frozen', reason: i.budget.reason, message: i.budget.message };
  if (i.inactive) return { kind: 'off', reason: 'Inactive', message: 'the key is off for inactivity' };
  return { kind: 'served' };
}
