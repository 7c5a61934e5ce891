import type { ApiKey } from '../openrouter/schemas.ts';
import { clusterPrefix, parseKeyName } from './keyname.ts';

export interface OwnerView {
  uid: string;
  keyHash: string | undefined;
  pendingName: string | undefined;
}

/**
 * Pure: keys named by this cluster that no TeamMember owns any more, older than the grace period. Keys of other
 * clusters, keys this operator did not name, and released keys are never candidates.
 */
export function findOrphans(keys: readonly ApiKey[], cluster: string, owner: (namespace: string, name: string) => OwnerView | undefined, now: number, graceMs: number): ApiKey[] {
  const prefix = clusterPrefix(cluster);
  return keys.filter((k) => {
    if (!k.name.startsWith(prefix)) return false;
    const o = parseKeyName(k.name);
    if (!o || o.cluster !== cluster) return false;
    if (now - Date.parse(k.created_at) < graceMs) return false;
    const m = owner(o.namespace, o.member);
    if (!m || m.uid !== o.uid) return true;
    return k.hash !== m.keyHash && k.name !== m.pendingName;
  });
}
