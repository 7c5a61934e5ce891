import type { Logger } from 'pino';
import { ownerOf, parseMember } from '../api/objects.ts';
import type { Cluster } from '../kube/cluster.ts';
import { isKube } from '../kube/errors.ts';
import type { Recorder } from './events.ts';
import type { KeyBook } from './keybook.ts';
import type { Key, KeyPort } from '../domain/key.ts';
import { clusterPrefix, parseKeyName } from './keyname.ts';

export interface OwnerView {
  uid: string;
  keyHash: string | undefined;
  pendingName: string | undefined;
  /** keys it rotated away from that still exist */
  previous: readonly string[];
}

/**
 * Pure: keys named by this cluster that no TeamMember owns any more, older than the grace period. Keys of other
 * clusters, keys this operator did not name, and released keys are never candidates.
 */
export function findOrphans(keys: readonly Key[], cluster: string, owner: (namespace: string, name: string) => OwnerView | undefined, now: number, graceMs: number): Key[] {
  const prefix = clusterPrefix(cluster);
  return keys.filter((k) => {
    if (!k.name.startsWith(prefix)) return false;
    const o = parseKeyName(k.name);
    if (!o || o.cluster !== cluster) return false;
    if (now - Date.parse(k.createdAt) < graceMs) return false;
    const m = owner(o.namespace, o.member);
    if (!m || m.uid !== o.uid) return true;
    return k.hash !== m.keyHash && k.name !== m.pendingName && !m.previous.includes(k.hash);
  });
}

export interface SweepDeps {
  book: KeyBook;
  keys: KeyPort;
  cluster: Cluster;
  recorder: Recorder;
  log: Logger;
  clusterId: string;
  /** namespaces this operator manages (its --namespace-selector) */
  manages: (namespace: string | undefined) => boolean;
  /** the member as the informer cache has it */
  cached: (namespace: string, name: string) => unknown;
  now: number;
  graceMs: number;
}

/**
 * Revokes this cluster's keys that no TeamMember owns (after the grace period), each confirmed against a fresh
 * read of its would-be owner, so a member whose status the cache has not caught up with keeps its key.
 */
export async function revokeOrphans(d: SweepDeps): Promise<void> {
  const keys = d.book.all().filter((k) => d.manages(parseKeyName(k.name)?.namespace));
  const orphans = findOrphans(keys, d.clusterId, (ns, name) => ownerOf(d.cached(ns, name)), d.now, d.graceMs);
  for (const k of orphans) {
    const o = parseKeyName(k.name);
    if (!o) continue;
    const raw = await d.cluster.readMember(o.namespace, o.member).catch((e: unknown) => {
      if (isKube(e, 'notFound')) return undefined;
      throw e;
    });
    const owner = ownerOf(raw);
    if (owner && owner.uid === o.uid && (owner.keyHash === k.hash || owner.pendingName === k.name || owner.previous.includes(k.hash))) continue;
    const parsed = parseMember(raw);
    await d.keys.delete(k.hash);
    d.book.remove(k.hash);
    d.log.warn({ hash: k.hash, name: k.name, createdAt: k.createdAt }, 'revoked an orphaned key: no TeamMember owns it');
    if (parsed?.ok) await d.recorder.warn(parsed.value, 'OrphanRevoked', `revoked key ${k.label} (${k.name}): it was not this member's active key`);
  }
}
