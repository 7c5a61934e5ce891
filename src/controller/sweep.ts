import type { Logger } from 'pino';
import { ownerOf, parseMember } from '../api/objects.ts';
import type { Cluster } from '../kube/cluster.ts';
import { isKube } from '../kube/errors.ts';
import type { Recorder } from './events.ts';
import type { KeyBook } from './keybook.ts';
import type { Key, KeyPort } from '../domain/key.ts';
import { legacyId } from './identity.ts';
import { clusterPrefix, parseKeyName } from './keyname.ts';

export interface OwnerView {
  uid: string;
  keyHash: string | undefined;
  pendingName: string | undefined;
  /** the seq of a first key in flight, whose intent is its name (no key in status yet) */
  impliedSeq: number | undefined;
  /** keys it rotated away from that still exist */
  previous: readonly string[];
}

/** Whether the member (already matched by uid) holds or is issuing the key. */
function holds(m: OwnerView, k: Key, seq: number): boolean {
  return k.hash === m.keyHash || k.name === m.pendingName || seq === m.impliedSeq || m.previous.includes(k.hash);
}

/**
 * Pure: keys named with this id (`cluster`) that no TeamMember owns any more, older than the grace period. Keys of
 * other clusters and operators, keys this operator did not name, and released keys are never candidates.
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
    return !holds(m, k, o.seq);
  });
}

export interface SweepDeps {
  book: KeyBook;
  keys: KeyPort;
  cluster: Cluster;
  recorder: Recorder;
  log: Logger;
  /** this operator's id (controller/identity.ts): the one in the names of the keys it creates */
  clusterId: string;
  /** namespaces this operator manages (its --namespace-selector) */
  manages: (namespace: string | undefined) => boolean;
  /** the member as the informer cache has it */
  cached: (namespace: string, name: string) => unknown;
  now: number;
  graceMs: number;
}

/**
 * Pure: the keys the sweep looks at. Keys named with this operator's id are its own in any namespace, also one
 * that has left its --namespace-selector (its members there are still offboarded by it, their leftovers still
 * swept); another operator's keys carry another id. Keys named with the bare cluster id, as sharded operators named
 * them before ids were per operator, are looked at only in the namespaces this operator manages, as then.
 */
export function sweepable(keys: readonly Key[], id: string, manages: (namespace: string | undefined) => boolean): { keys: Key[]; id: string }[] {
  const legacy = legacyId(id);
  return [
    { keys: [...keys], id },
    ...(legacy === undefined ? [] : [{ keys: keys.filter((k) => manages(parseKeyName(k.name)?.namespace)), id: legacy }]),
  ];
}

/**
 * Revokes this operator's keys that no TeamMember owns (after the grace period), each confirmed against a fresh
 * read of its would-be owner, so a member whose status the cache has not caught up with keeps its key.
 */
export async function revokeOrphans(d: SweepDeps): Promise<void> {
  const cachedOwner = (ns: string, name: string) => ownerOf(d.cached(ns, name));
  const orphans = sweepable(d.book.all(), d.clusterId, d.manages).flatMap((s) => findOrphans(s.keys, s.id, cachedOwner, d.now, d.graceMs));
  for (const k of orphans) {
    const o = parseKeyName(k.name);
    if (!o) continue;
    const raw = await d.cluster.readMember(o.namespace, o.member).catch((e: unknown) => {
      if (isKube(e, 'notFound')) return undefined;
      throw e;
    });
    const owner = ownerOf(raw);
    if (owner && owner.uid === o.uid && holds(owner, k, o.seq)) continue;
    const parsed = parseMember(raw);
    await d.keys.delete(k.hash);
    d.log.warn({ hash: k.hash, name: k.name, createdAt: k.createdAt }, 'revoked an orphaned key: no TeamMember owns it');
    if (parsed?.ok) await d.recorder.warn(parsed.value, 'OrphanRevoked', `revoked key ${k.label} (${k.name}): it was not this member's active key`);
  }
}
