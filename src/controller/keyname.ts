/**
 * OpenRouter keys carry no labels and their string is shown once, so every key the operator creates carries its
 * owner in its name: teamkeys/<cluster>/<namespace>/<member>/<uid>/<seq>. '/' cannot occur in any part (namespace
 * and object names are DNS labels/subdomains, UIDs are UUIDs), so the name parses back unambiguously.
 */
export interface KeyOwner {
  cluster: string;
  namespace: string;
  member: string;
  uid: string;
  seq: number;
}

const PREFIX = 'teamkeys';
/** Keys the operator let go of (deletionPolicy Disable/Retain) are renamed so the orphan sweep leaves them alone. */
export const RELEASED_PREFIX = 'released:';

export function keyName(o: KeyOwner): string {
  return [PREFIX, o.cluster, o.namespace, o.member, o.uid, String(o.seq)].join('/');
}

export function clusterPrefix(cluster: string): string {
  return `${PREFIX}/${cluster}/`;
}

export function parseKeyName(name: string): KeyOwner | undefined {
  const parts = name.split('/');
  if (parts.length !== 6 || parts[0] !== PREFIX) return undefined;
  const [, cluster, namespace, member, uid, seq] = parts;
  if (!cluster || !namespace || !member || !uid || seq === undefined || !/^\d+$/.test(seq)) return undefined;
  return { cluster, namespace, member, uid, seq: Number(seq) };
}
