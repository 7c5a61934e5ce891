/**
 * Pure: whether a reconcile is paused by the annotation teamkeys.dev/paused="true" on a TeamMember or on its
 * KeyPolicy (which pauses the policy's members too), and the condition that says so. A pause stops every change
 * the operator would make, but never one that takes a key away: deletion still offboards, and a suspended member's
 * key is still disabled (fail closed).
 */
import { ANNOTATION_PAUSED } from '../api/schema.ts';
import type { ConditionInput } from './conditions.ts';

interface Annotated {
  metadata?: { annotations?: Record<string, string> | undefined } | undefined;
}

export type PausedBy = 'member' | 'policy';

export const isPaused = (o: Annotated | undefined): boolean => o?.metadata?.annotations?.[ANNOTATION_PAUSED] === 'true';

/** What pauses a member: its own annotation first, then its policy's. */
export function pausedBy(member: Annotated, policy: Annotated | undefined): PausedBy | undefined {
  if (isPaused(member)) return 'member';
  return isPaused(policy) ? 'policy' : undefined;
}

export function pausedCondition(by: PausedBy, policyName?: string): ConditionInput {
  return by === 'member'
    ? { type: 'Paused', status: 'True', reason: 'PausedByAnnotation', message: `${ANNOTATION_PAUSED}=true on this TeamMember: the operator changes nothing but still offboards it when deleted and disables its key when suspended` }
    : { type: 'Paused', status: 'True', reason: 'PolicyPaused', message: `${ANNOTATION_PAUSED}=true on KeyPolicy ${policyName ?? ''}: the operator changes nothing but still offboards the member when deleted and disables its key when suspended` };
}

/** The policy's own condition while paused. */
export const POLICY_PAUSED: ConditionInput = {
  type: 'Paused', status: 'True', reason: 'PausedByAnnotation',
  message: `${ANNOTATION_PAUSED}=true: neither this policy's guardrail nor its members are changed (deletion still offboards, suspension still disables)`,
};
