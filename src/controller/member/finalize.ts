import type { Offboardee } from '../../api/objects.ts';
import { FINALIZER, type TeamMember } from '../../api/schema.ts';
import { POLICY_DEFAULTS } from '../../api/policy.ts';
import { isOpenRouter } from '../../openrouter/errors.ts';
import { keyName, RELEASED_PREFIX } from '../keyname.ts';
import type { MemberDeps, Result } from './deps.ts';
import { isOwnedBy } from './secret.ts';

/** The API server adds this finalizer for a delete with propagationPolicy Orphan; the garbage collector removes it. */
const ORPHAN_FINALIZER = 'orphan';

/**
 * The claim: the finalizer goes on before anything is issued, so no key outlives its member unseen. The pass
 * goes on from the version just written (waiting for its watch event would send it to the back of the queue).
 * `fresh`: the write was guarded by the cached resourceVersion, so it proves the cached status is the stored one
 * (the pass needs no second read to act on it).
 */
export async function claim(member: TeamMember, d: MemberDeps): Promise<{ member: TeamMember; fresh: boolean }> {
  if (member.metadata.finalizers?.includes(FINALIZER)) return { member, fresh: false };
  const finalizers = [...(member.metadata.finalizers ?? []), FINALIZER];
  const resourceVersion = await d.members.setFinalizers(member.metadata.namespace ?? '', member.metadata.name, member.metadata.resourceVersion ?? '', finalizers);
  return { member: { ...member, metadata: { ...member.metadata, finalizers, resourceVersion } }, fresh: true };
}

/**
 * Offboarding: applies the policy's deletionPolicy to every key the member has (including one from an
 * interrupted create), deletes its Secret, and only then lets the TeamMember go. Keys that are kept (Disable,
 * Retain) are renamed so the orphan sweep leaves them alone. Works from the lenient view of the member, so a
 * member whose spec cannot be read is offboarded all the same.
 */
export async function finalizeMember(m: Offboardee, d: MemberDeps): Promise<Result> {
  const finalizers = m.metadata.finalizers ?? [];
  if (!finalizers.includes(FINALIZER)) return {};
  if (!d.credentialsValid()) return { requeueAfterMs: 30_000 }; // hold until OpenRouter can confirm
  const ns = m.metadata.namespace ?? '';
  const deletion = ((m.policy === undefined ? undefined : d.policy(m.policy)) ?? POLICY_DEFAULTS).deletionPolicy;
  const hashes = new Set<string>();
  if (m.key) hashes.add(m.key.hash);
  for (const p of m.previous) hashes.add(p.hash);
  if (m.pendingName) {
    await d.refreshBook();
    for (const k of d.book.byName(m.pendingName)) hashes.add(k.hash);
  }
  // a first key created under its implied intent, as the book knows it: listed first when the book never was (a
  // deletion is offboarded before a restart's first listing) or a create under that name has an unknown outcome
  if (m.impliedSeq !== undefined) {
    const name = keyName({ cluster: d.clusterId, namespace: ns, member: m.metadata.name, uid: m.metadata.uid, seq: m.impliedSeq });
    if (d.book.refreshedFrom === undefined || d.book.unsettled(name)) await d.refreshBook();
    for (const k of d.book.byName(name)) hashes.add(k.hash);
  }
  for (const hash of hashes) {
    if (deletion === 'Delete') {
      await d.keys.delete(hash);
      continue;
    }
    const known = d.book.get(hash)?.name ?? (m.key?.hash === hash ? m.key.name : m.previous.find((p) => p.hash === hash)?.name);
    const name = known && !known.startsWith(RELEASED_PREFIX) ? RELEASED_PREFIX + known : known;
    try {
      await d.keys.update(hash, { ...(deletion === 'Disable' ? { disabled: true } : {}), ...(name ? { name } : {}) });
    } catch (e) {
      if (!isOpenRouter(e, 'notFound')) throw e;
    }
  }
  const verb = { Delete: 'deleted', Disable: 'disabled', Retain: 'kept' }[deletion];
  await d.events.normal(m, `Key${deletion === 'Delete' ? 'Revoked' : deletion === 'Disable' ? 'Disabled' : 'Retained'}`, `${verb} ${hashes.size} OpenRouter key(s) (deletionPolicy ${deletion})`);
  // `kubectl delete --cascade=orphan` asks Kubernetes to keep the dependents: the Secret stays (the garbage
  // collector drops its owner reference), while the key still gets the deletionPolicy
  if (!finalizers.includes(ORPHAN_FINALIZER)) {
    const s = await d.secrets.read(ns, m.secretName);
    if (s && isOwnedBy(s, m) && s.uid) await d.secrets.delete(ns, m.secretName, s.uid);
  }
  await d.members.setFinalizers(ns, m.metadata.name, m.metadata.resourceVersion ?? '', finalizers.filter((f) => f !== FINALIZER));
  return {};
}
