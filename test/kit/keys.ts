/** A Key as the controller sees it (src/domain/key.ts), for the unit tests of what it decides. */
import type { Key, Spend } from '../../src/domain/key.ts';

const none: Spend = { daily: 0, weekly: 0, monthly: 0, total: 0 };

/** A key as the controller sees it: enabled, 5 USD monthly, nothing spent; override what a case needs. */
export function aKey(hash: string, over: Partial<Key> = {}): Key {
  return {
    hash, name: 'teamkeys/c/ns/m/u/1', label: 'sk-or-v1-abc...xyz', disabled: false, limitUSD: 5, limitRemainingUSD: 5, reset: 'monthly',
    includeByok: false, usage: none, byok: none, createdAt: '2026-01-01T00:00:00Z', expiresAt: undefined, workspaceId: undefined, ...over,
  };
}
