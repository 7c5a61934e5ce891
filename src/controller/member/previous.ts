/**
 * The previous keys of rotations: a Draining key keeps its reserve as its limit (a new window gives it only the
 * allowance), is disabled when its overlap ends, when every opted-in workload rolled out with the new key, or at
 * once when the member may not have a working key; a disabled one is deleted after the retention, or kept
 * disabled (renamed so the orphan sweep leaves it) when the policy keeps offboarded keys.
 */
import type { PreviousKey } from '../../api/schema.ts';
import type { Key } from '../../domain/key.ts';
import { isOpenRouter } from '../../openrouter/errors.ts';
import { roundUsd } from '../../util/money.ts';
import { RELEASED_PREFIX, parseKeyName } from '../keyname.ts';
import { rolledOut, startedAfter } from '../workloads.ts';
import { spendIn } from '../../domain/key.ts';
import { carriedSpend, drainLimit, retiredFromDraining, retiredFromReserve, sameLimit, withRetired } from './budget.ts';
import type { Pass, Progress } from './pass.ts';

/** What a draining key spent since it was rotated away from (at most its reserve when that was not recorded). */
function overlapSpend(p: PreviousKey, k: Key, includeByok: boolean): number {
  if (p.totalUSD === undefined) return drainLimit(p, p.window);
  return roundUsd(Math.max(0, spendIn(k, 'never', includeByok) - p.totalUSD));
}

/** Tends every previous key; writes status once when anything changed. */
export async function tendPrevious(p: Pass, s: Progress, retireNow: boolean): Promise<Progress> {
  const { d, v, policy, budget } = p;
  const now = v.now;
  let changed = false;
  let progress = s;
  const next: PreviousKey[] = [];
  // workloads that opted in to restarts and use this Secret: once all run the new key, the overlap can end early
  const seq = s.status.key ? parseKeyName(s.status.key.name)?.seq : undefined;
  const workloads = v.workloads;
  for (const prev of s.status.previousKeys ?? []) {
    // (one created during the overlap that has rolled out started with the new key)
    const pending = workloads.filter((w) => (seq === undefined || !rolledOut(w, v.secretName, seq)) && !startedAfter(w, Date.parse(prev.rotatedAt)));
    // an Argo Rollout using the Secret: its restart's end is not judged, the previous key works the whole overlap
    const rolled = workloads.length > 0 && pending.length === 0 && v.rollouts === 0;
    const overlapOver = now >= Date.parse(prev.retireAt);
    if (prev.state === 'Draining' && (retireNow || overlapOver || rolled)) {
      const keep = policy.deletionPolicy !== 'Delete';
      let k: Key | undefined;
      try {
        // a kept key is renamed so the orphan sweep leaves it alone once it drops out of this history
        k = await d.keys.update(prev.hash, { disabled: true, ...(keep && !prev.name.startsWith(RELEASED_PREFIX) ? { name: RELEASED_PREFIX + prev.name } : {}) });
      } catch (e) {
        if (!isOpenRouter(e, 'notFound')) throw e;
      }
      // its final spend counts against the window from now on, in place of the reserve; what it spent in the
      // overlap also counts in the next window if that begins soon (OpenRouter's may already have turned)
      const retired = k ? retiredFromDraining(k, now, Date.parse(prev.rotatedAt), overlapSpend(prev, k, budget?.includeByok ?? false)) : retiredFromReserve(prev);
      const retiredKeys = withRetired(progress.status.budget?.retiredKeys ?? [], retired, now);
      const reset = budget?.reset ?? progress.status.budget?.reset ?? policy.budget.reset;
      progress = {
        ...progress,
        status: { ...progress.status, budget: { ...(progress.status.budget ?? { reset }), retiredKeys } },
        carried: budget ? { usd: carriedSpend(retiredKeys, budget.reset, budget.includeByok, now), window: progress.carried.window } : progress.carried,
      };
      next.push(k ? { ...prev, state: 'Disabled', ...(keep ? {} : { deleteAt: new Date(now + policy.rotation.retainDisabledMs).toISOString() }) } : { ...prev, state: 'Deleted' });
      const stalled = !retireNow && !rolled && pending.length > 0;
      d.observe.overlapEnded(retireNow ? 'forced' : rolled ? 'rolled_out' : stalled ? 'stalled' : 'overlap', Math.max(0, (now - Date.parse(prev.rotatedAt)) / 1000));
      await d.events.normal(v.member, 'PreviousKeyDisabled', `disabled the previous key ${prev.label}: ${retireNow ? 'the member may not have a working key' : rolled ? `${workloads.length} workload(s) rolled out with the new key` : 'its overlap ended'}`);
      if (stalled) {
        const names = pending.map((w) => `${w.kind}/${w.obj.metadata?.name ?? ''}`).join(', ');
        await d.events.warn(v.member, 'RotationStalled', `the overlap ended before ${names} rolled out with the new key: the previous key is disabled anyway`);
        for (const w of pending) {
          const meta = w.obj.metadata;
          if (meta?.name && meta.namespace && meta.uid) await d.events.warn({ apiVersion: 'apps/v1', kind: w.kind, metadata: { name: meta.name, namespace: meta.namespace, uid: meta.uid } }, 'RotationStalled', `did not roll out with the new key of Secret ${v.secretName} within the overlap; the previous key is now disabled`);
        }
      }
      changed = true;
      continue;
    }
    if (prev.state === 'Disabled' && prev.deleteAt && now >= Date.parse(prev.deleteAt)) {
      await d.keys.delete(prev.hash);
      const { deleteAt: _done, ...rest } = prev;
      next.push({ ...rest, state: 'Deleted' });
      changed = true;
      continue;
    }
    if (prev.state === 'Draining' && budget?.limitUSD !== undefined) {
      // across a window boundary the reserve shrinks to the allowance; a limit lowered meanwhile caps it too
      const want = Math.max(0, Math.min(drainLimit(prev, progress.carried.window), budget.limitUSD - progress.carried.usd));
      const seen = d.book.get(prev.hash);
      if (seen && !sameLimit(seen.limitUSD, want)) await d.keys.update(prev.hash, { limitUSD: want });
    }
    next.push(prev);
  }
  if (!changed) return progress;
  const status = await p.journal.save({ ...progress.status, previousKeys: next });
  return { ...progress, status };
}
