/**
 * A member whose spec or status does not parse. The condition says why; deletion and `suspended: true` are
 * honoured from the fields that can be read (fail closed); nothing else is touched: no key is created, replaced
 * or re-enabled on a guess.
 */
import type { Offboardee } from '../../api/objects.ts';
import { TeamMemberStatus } from '../../api/schema.ts';
import type { MemberStore } from '../../domain/member.ts';
import { isOpenRouter } from '../../openrouter/errors.ts';
import { toJson } from '../../util/json.ts';
import { setCondition } from '../conditions.ts';
import { mergePatch } from '../mergepatch.ts';
import { confirmedKey } from './gather.ts';
import type { MemberDeps, Result } from './deps.ts';
import { finalizeMember } from './finalize.ts';

export async function reconcileInvalid(m: Offboardee, raw: { metadata: { generation?: number | undefined }; status?: unknown }, message: string, d: MemberDeps): Promise<Result> {
  if (m.metadata.deletionTimestamp) return finalizeMember(m, d);
  const now = new Date(d.clock.now()).toISOString();
  const suspendNote = m.suspended && m.key ? ' (spec.suspended is true: the key is disabled)' : '';
  let rv = await markInvalid(d.members, m, raw, `${message}${suspendNote}`, now);
  if (!m.suspended || !m.key || !d.credentialsValid()) return {};
  // recorded first, as the operator's own doing (like a create intent): once the spec reads again the key is
  // re-enabled as usual, never judged leaked because the status did not say who disabled it
  if (!m.key.disabled) rv = await d.members.patchStatus(m.metadata.namespace ?? '', m.metadata.name, rv, { key: { disabled: true } });
  // a previous key still draining stops working too (its status catches up once the spec reads again); one the
  // listing missed is read, not taken for gone
  for (const p of m.previous) {
    const seen = await confirmedKey(d, p.hash);
    if (seen && !seen.disabled) await d.keys.update(p.hash, { disabled: true });
  }
  if (d.book.get(m.key.hash)?.disabled) return {};
  try {
    await d.keys.update(m.key.hash, { disabled: true });
  } catch (e) {
    if (isOpenRouter(e, 'notFound')) return {}; // nothing left to disable
    throw e;
  }
  await d.events.warn(m, 'KeyDisabled', 'spec.suspended is true: disabled the key (the rest of the spec cannot be read)');
  return {};
}

/** Ready=False InvalidSpec with the parser's message; the rest of the status is left as it is. Returns the resourceVersion after. */
export async function markInvalid(members: MemberStore, m: Offboardee, raw: { metadata: { generation?: number | undefined }; status?: unknown }, message: string, now: string): Promise<string> {
  const prev = TeamMemberStatus.safeParse(raw.status ?? {});
  const conditions = setCondition(prev.success ? prev.data.conditions : [], { type: 'Ready', status: 'False', reason: 'InvalidSpec', message }, raw.metadata.generation, now);
  const patch = mergePatch(toJson(prev.success ? { conditions: prev.data.conditions } : {}), toJson({ conditions }));
  if (patch === undefined) return m.metadata.resourceVersion ?? '';
  return members.patchStatus(m.metadata.namespace ?? '', m.metadata.name, m.metadata.resourceVersion ?? '', patch);
}
