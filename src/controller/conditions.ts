import { CONDITIONS_MAX, Condition } from '../api/schema.ts';

export type ConditionInput = Pick<Condition, 'type' | 'status' | 'reason' | 'message'>;

/** The CRD's bounds on a condition's strings (invariant 11: a status the API server refuses is a frozen member). */
const MAX = {
  type: Condition.shape.type.maxLength ?? Infinity,
  reason: Condition.shape.reason.maxLength ?? Infinity,
  message: Condition.shape.message.maxLength ?? Infinity,
};

/**
 * At most `max` characters, ending in an ellipsis when cut. Counted in UTF-16 units, never fewer than the code
 * points the API server counts, and never cutting a surrogate pair in half.
 */
function clip(s: string, max: number): string {
  if (s.length <= max) return s;
  let end = max - 1;
  const last = s.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${s.slice(0, end)}…`;
}

/**
 * Sets one condition by type, purely. lastTransitionTime changes only when the status flips, so an unchanged
 * condition yields an identical list and no status write.
 */
export function setCondition(list: readonly Condition[] | undefined, next: ConditionInput, generation: number | undefined, now: string): Condition[] {
  const out = [...(list ?? [])];
  const type = clip(next.type, MAX.type);
  const i = out.findIndex((c) => c.type === type);
  const prev = i >= 0 ? out[i] : undefined;
  const cond: Condition = {
    type,
    status: next.status,
    reason: clip(next.reason, MAX.reason),
    // a message may quote another system (an API server refusal, an OpenRouter error): it never makes the status invalid
    message: clip(next.message, MAX.message),
    lastTransitionTime: prev && prev.status === next.status ? prev.lastTransitionTime : now,
    ...(generation === undefined ? {} : { observedGeneration: generation }),
  };
  if (i >= 0) out[i] = cond;
  else out.push(cond);
  // bounded like every list in status: past the bound, the condition that changed longest ago goes (never this one)
  while (out.length > CONDITIONS_MAX) {
    const oldest = out.reduce((o, c, j) => (c !== cond && (o < 0 || c.lastTransitionTime < (out[o]?.lastTransitionTime ?? '')) ? j : o), -1);
    out.splice(oldest, 1);
  }
  return out;
}

/** Whether the condition of this type is True. */
export function isTrue(list: readonly Condition[] | undefined, type: string): boolean {
  return list?.some((c) => c.type === type && c.status === 'True') ?? false;
}

/** The list without a condition of this type (the same list when there is none: no status write). */
export function withoutCondition(list: readonly Condition[] | undefined, type: string): Condition[] | undefined {
  if (!list?.some((c) => c.type === type)) return list === undefined ? undefined : [...list];
  return list.filter((c) => c.type !== type);
}
