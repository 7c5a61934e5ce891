import type { Condition } from '../api/schema.ts';

export type ConditionInput = Pick<Condition, 'type' | 'status' | 'reason' | 'message'>;

/**
 * Sets one condition by type, purely. lastTransitionTime changes only when the status flips, so an unchanged
 * condition yields an identical list and no status write.
 */
export function setCondition(list: readonly Condition[] | undefined, next: ConditionInput, generation: number | undefined, now: string): Condition[] {
  const out = [...(list ?? [])];
  const i = out.findIndex((c) => c.type === next.type);
  const prev = i >= 0 ? out[i] : undefined;
  const cond: Condition = {
    type: next.type,
    status: next.status,
    reason: next.reason,
    message: next.message,
    lastTransitionTime: prev && prev.status === next.status ? prev.lastTransitionTime : now,
    ...(generation === undefined ? {} : { observedGeneration: generation }),
  };
  if (i >= 0) out[i] = cond;
  else out.push(cond);
  return out;
}

/** Whether the condition of this type is True. */
export function isTrue(list: readonly Condition[] | undefined, type: string): boolean {
  return list?.some((c) => c.type === type && c.status === 'True') ?? false;
}
