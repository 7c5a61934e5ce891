/**
 * The controller's view of an OpenRouter key, and the narrow port it reaches OpenRouter through. The wire format
 * (snake_case, nulls, limit_reset strings) stays in openrouter/; everything here speaks the operator's terms.
 */
import type { ResetPeriod } from '../util/windows.ts';

/** Spend per UTC window, in USD, as OpenRouter counts it. */
export interface Spend {
  daily: number;
  weekly: number;
  monthly: number;
  total: number;
}

export interface Key {
  hash: string;
  /** the name teamkeys gave it (keyname.ts): cluster, namespace, member, uid, sequence */
  name: string;
  /** OpenRouter's preview of the key string, safe to show */
  label: string;
  disabled: boolean;
  /** undefined: no cap */
  limitUSD: number | undefined;
  /** what OpenRouter says is left of the limit in this window (undefined: no cap) */
  limitRemainingUSD: number | undefined;
  reset: ResetPeriod;
  includeByok: boolean;
  usage: Spend;
  byok: Spend;
  createdAt: string;
  expiresAt: string | undefined;
  workspaceId: string | undefined;
}

export interface NewKey {
  name: string;
  limitUSD: number | undefined;
  reset: ResetPeriod;
  includeByok: boolean;
  expiresAt: string | undefined;
  workspaceId: string | undefined;
}

/** Fields to change; absent ones are left as they are. */
export interface KeyChange {
  /** a released key is renamed, so the orphan sweep leaves it alone */
  name?: string;
  disabled?: boolean;
  /** null removes the cap */
  limitUSD?: number | null;
  reset?: ResetPeriod;
  includeByok?: boolean;
}

/**
 * What the controller needs from OpenRouter. Failures are OpenRouterErrors (kind notFound, rateLimited, ...);
 * delete treats a key already gone as deleted.
 */
export interface KeyPort {
  list(opts?: { workspaceId?: string | undefined }): AsyncIterable<Key>;
  get(hash: string): Promise<Key>;
  /** Never retried: the caller recorded the key's name first, so a lost answer can be recovered. */
  create(spec: NewKey): Promise<{ key: Key; secret: string }>;
  update(hash: string, change: KeyChange): Promise<Key>;
  delete(hash: string): Promise<void>;
  /** Resolves a workspace slug or id to its id. */
  workspaceId(idOrSlug: string): Promise<string>;
}

/** Spend that counts against the limit in the window of `reset`, with or without BYOK. */
export function spendIn(key: Pick<Key, 'usage' | 'byok'>, reset: ResetPeriod, includeByok: boolean): number {
  const pick = (s: Spend) => (reset === 'never' ? s.total : s[reset]);
  return pick(key.usage) + (includeByok ? pick(key.byok) : 0);
}
