import { FINALIZER, type TeamMember } from '../../api/schema.ts';
import { isKube } from '../../kube/errors.ts';
import { RELEASED_PREFIX } from '../keyname.ts';
import type { MemberDeps, Result } from './deps.ts';

/** The API server adds this finalizer for a delete with propagationPolicy Orphan; the garbage collector removes it. */
const ORPHAN_FINALIZER = 'orphan';
import { defaultSecretName, isOwnedBy } from './secret.ts';

/**
 * Offboarding: applies the policy's deletionPolicy to every key the member has (including one from an
 * interrupted create), deletes its Secret, and only then lets the TeamMember go. Keys that are kept (Disable,
 * Retain) are renamed so the orphan sweep leaves them alone.
 */
export async function finalizeMember(m: TeamMember, d: MemberDeps): Promise<Result> {
  if (!m.metadata.finalizers?.includes(FINALIZER)) return {};
  if (!d.credentialsValid()) return { requeueAfterMs: 30_000 }; // hold until OpenRouter can confirm
  const ns = m.metadata.namespace ?? '';
  const policy = d.policy(m.spec.policy);
  const deletion = policy?.spec.deletionPolicy ?? 'Delete';
  const hashes = new Set<string>();
  if (m.status?.key) hashes.add(m.status.key.hash);
  if (m.status?.pendingKey) {
    await d.refreshBook();
    for (const k of d.book.byName(m.status.pendingKey.name)) hashes.add(k.hash);
  }
  for (const hash of hashes) {
    if (deletion === 'Delete') {
      await d.client.deleteKey(hash);
      d.book.remove(hash);
      continue;
    }
    const known = d.book.get(hash)?.name ?? (m.status?.key?.hash === hash ? m.status.key.name : undefined);
    const name = known && !known.startsWith(RELEASED_PREFIX) ? RELEASED_PREFIX + known : known;
    try {
      const updated = await d.client.updateKey(hash, { ...(deletion === 'Disable' ? { disabled: true } : {}), ...(name ? { name } : {}) });
      d.book.put(updated);
    } catch (e) {
      if (!(e instanceof Error && 'kind' in e && e.kind === 'notFound')) throw e;
    }
  }
  const verb = { Delete: 'deleted', Disable: 'disabled', Retain: 'kept' }[deletion];
  await d.recorder.normal(m, `Key${deletion === 'Delete' ? 'Revoked' : deletion === 'Disable' ? 'Disabled' : 'Retained'}`, `${verb} ${hashes.size} OpenRouter key(s) (deletionPolicy ${deletion})`);
  // `kubectl delete --cascade=orphan` asks Kubernetes to keep the dependents: the Secret stays (the garbage
  // collector drops its owner reference), while the key still gets the deletionPolicy
  if (!m.metadata.finalizers.includes(ORPHAN_FINALIZER)) {
    try {
      const s = await d.cluster.readSecret(ns, defaultSecretName(m));
      if (isOwnedBy(s, m) && s.metadata?.uid) await d.cluster.deleteSecret(ns, defaultSecretName(m), s.metadata.uid);
    } catch (e) {
      if (!isKube(e, 'notFound')) throw e;
    }
  }
  await d.cluster.setMemberFinalizers(ns, m.metadata.name, m.metadata.resourceVersion ?? '', (m.metadata.finalizers ?? []).filter((f) => f !== FINALIZER));
  return {};
}
