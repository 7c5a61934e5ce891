/**
 * The controller's view of an OpenRouter guardrail (a server-side restriction assigned to keys), and the port it
 * reaches guardrails through. Wire names stay in openrouter/guardrails.ts.
 */

/** What a guardrail restricts, in the operator's terms. Lists are absent when they do not restrict. */
export interface GuardrailRules {
  allowedModels?: string[] | undefined;
  deniedModels?: string[] | undefined;
  allowedProviders?: string[] | undefined;
  deniedProviders?: string[] | undefined;
  /** zero data retention enforced for every provider group */
  zeroDataRetention: boolean;
}

export interface Guardrail extends GuardrailRules {
  id: string;
  name: string;
  workspaceId: string | undefined;
}

/**
 * What the controller needs from OpenRouter's guardrails. Failures are OpenRouterErrors; delete treats a guardrail
 * already gone as deleted. Assignment calls take any number of hashes and page them.
 */
export interface GuardrailPort {
  list(workspaceId: string | undefined): AsyncIterable<Guardrail>;
  get(id: string): Promise<Guardrail>;
  /** Never retried: the name is deterministic, so a lost answer is found by the next list. */
  create(name: string, description: string, workspaceId: string | undefined, rules: GuardrailRules): Promise<Guardrail>;
  /** Replaces every rule (collections have replace semantics at OpenRouter). */
  update(id: string, rules: GuardrailRules): Promise<Guardrail>;
  delete(id: string): Promise<void>;
  assignedKeys(id: string): AsyncIterable<string>;
  assign(id: string, hashes: readonly string[]): Promise<number>;
  unassign(id: string, hashes: readonly string[]): Promise<number>;
}

/** Order-insensitive equality of two optional lists. */
function sameSet(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (a.length !== b.length) return false;
  const s = new Set(a);
  return b.every((x) => s.has(x));
}

export function sameRules(a: GuardrailRules, b: GuardrailRules): boolean {
  return sameSet(a.allowedModels, b.allowedModels) && sameSet(a.deniedModels, b.deniedModels)
    && sameSet(a.allowedProviders, b.allowedProviders) && sameSet(a.deniedProviders, b.deniedProviders)
    && a.zeroDataRetention === b.zeroDataRetention;
}
