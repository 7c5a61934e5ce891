/**
 * A member whose spec or status does not parse. The condition says why; deletion and `suspended: true` are
 * honoured from the fields that can be read (fail closed); nothing else is touched: no key is created, replaced
 * or re-enabled on a guess.
 */
import type { Offboardee } from '../../api/objects.ts';
import { TeamMemberStatus } from '../../api/schema.ts';
import type { Cluster } from '../../kube/cluster.ts';
import { OpenRouterError } from '../../openrouter/errors.ts';
import { toJson } from '../../util/json.ts';
import { setCondition } from '../conditions.ts';
import { mergePatch } from '../mergepatch.ts';
import type { MemberDeps, Result } from './deps.ts';
import { finalizeMember } from './finalize.ts';

export async function reconcileInvalid(m: Offboardee, raw: { metadata: { generation?: number | undefined }; status?: unknown }, message: string, d: MemberDeps): Promise<Result> {
  if (m.metadata.deletionTimestamp) return finalizeMember(m, d);
  const now = new Date(d.clock.now()).toISOString();
  const suspendNote = m.suspended && m.key ? ' (spec.suspended is true: the key is disabled)' : '';
  await markInvalid(d.cluster, m, raw, `${message}${suspendNote}`, now);
  if (!m.suspended || !m.key || !d.credentialsValid()) return {};
  const observed = d.book.get(m.key.hash);
  if (observed?.disabled && m.key.disabled) return {};
  if (!observed?.disabled) {
    try {
      d.book.put(await d.client.updateKey(m.key.hash, { disabled: true }));
    } catch (e) {
      if (e instanceof OpenRouterError && e.kind === 'notFound') return {}; // nothing left to disable
      throw e;
    }
    await d.recorder.warn(m, 'KeyDisabled', 'spec.suspended is true: disabled the key (the rest of the spec cannot be read)');
  }
  // recorded as the operator's own doing, so the key is re-enabled, not judged leaked, once the spec reads again
  if (!m.key.disabled) await d.cluster.patchMemberStatusGuarded(m.metadata.namespace ?? '', m.metadata.name, m.metadata.resourceVersion ?? '', { key: { disabled: true } });
  return {};
}

/** Ready=False InvalidSpec with the parser's message; the rest of the status is left as it is. */
export async function markInvalid(cluster: Cluster, m: Offboardee, raw: { metadata: { generation?: number | undefined }; status?: unknown }, message: string, now: string): Promise<void> {
  const prev = TeamMemberStatus.safeParse(raw.status ?? {});
  const conditions = setCondition(prev.success ? prev.data.conditions : [], { type: 'Ready', status: 'False', reason: 'InvalidSpec', message }, raw.metadata.generation, now);
  const patch = mergePatch(toJson(prev.success ? { conditions: prev.data.conditions } : {}), toJson({ conditions }));
  if (patch !== undefined) await cluster.patchMemberStatusGuarded(m.metadata.namespace ?? '', m.metadata.name, m.metadata.resourceVersion ?? '', patch);
}
