/**
 * Rotation, crash-safe with the same intent protocol as any create: the previous key is recorded as Draining
 * together with the new key's name, then limited to its reserve, then the new key is created and written to the
 * Secret. The previous key keeps working for the overlap, is disabled when it ends (its final spend carried),
 * and deleted after a retention, or kept disabled when the policy keeps offboarded keys.
 */
import type { V1Secret } from '@kubernetes/client-node';
import type { KeyPolicy, PreviousKey } from '../../api/schema.ts';
import { isOpenRouter } from '../../openrouter/errors.ts';
import { parseDuration } from '../../util/duration.ts';
import { roundUsd } from '../../util/money.ts';
import { RELEASED_PREFIX, parseKeyName } from '../keyname.ts';
import { rolledOut, startedAfter } from '../workloads.ts';
import { spendIn, type Key } from '../../domain/key.ts';
import { carriedSpend, retiredFromDraining, withRetired } from './carry.ts';
import { confirmedKey } from './confirm.ts';
import type { MemberContext, SecretState } from './context.ts';
import { sameLimit, windowSpend, type DesiredBudget } from './desired.ts';
import { createKey, requireGuardrail } from './provision.ts';
import { drainLimit, overlapAllowance, retiredFromReserve, withPrevious, type RotationAsk } from './rotation.ts';

const TRIGGER_WORDS = { Scheduled: 'on schedule', Requested: 'as requested (teamkeys.dev/rotate)', Compromised: 'because the key was disabled outside' } as const;

/** Starts a rotation: returns the Secret with the new key, or undefined when the active key vanished meanwhile. */
export async function rotate(c: MemberContext, policy: KeyPolicy, budget: DesiredBudget, ask: RotationAsk, secret: SecretState): Promise<V1Secret | undefined> {
  const d = c.d;
  const old = c.status.key;
  if (!old) return undefined;
  requireGuardrail(c, policy); // before the previous key is recorded as draining
  // what it spent up to now, read fresh: the reserve starts from there; gone, the next pass replaces it
  const fresh = await c.freshKey(old.hash);
  if (!fresh) return undefined;
  const now = c.now();
  const overlapMs = parseDuration(policy.spec.rotation?.overlap ?? '10m');
  const spentUSD = windowSpend(fresh, budget.reset, budget.includeByok);
  const entry: PreviousKey = {
    hash: old.hash, name: old.name, label: old.label, state: 'Draining',
    rotatedAt: new Date(now).toISOString(), retireAt: new Date(now + overlapMs).toISOString(),
    window: c.carried.window, spentUSD, totalUSD: spendIn(fresh, 'never', budget.includeByok), allowanceUSD: overlapAllowance(budget.limitUSD, policy.spec, budget.limitUSD === undefined ? 0 : budget.limitUSD - c.carried.usd - spentUSD),
  };
  c.status = { ...c.status, previousKeys: withPrevious(c.status.previousKeys, entry) };
  const drain = budget.limitUSD === undefined ? undefined : { hash: old.hash, limitUSD: drainLimit(entry, c.carried.window) };
  const created = await createKey(c, policy, c.keyBudget(budget), secret, { rotation: { trigger: ask.trigger, from: old.hash, ...(ask.request ? { request: ask.request } : {}) }, drain });
  const until = overlapMs > 0 ? `works until ${entry.retireAt}` : 'is disabled now';
  await d.recorder.normal(c.m, 'KeyRotated', `rotated ${TRIGGER_WORDS[ask.trigger]}: ${created.label} is in Secret ${c.secretName}; the previous key ${old.label} ${until}`);
  return created.secret;
}

/**
 * Reads a Draining key the listing missed (confirm.ts) into the book before anything is judged from it: it still
 * spends (its reserve comes off the active key's limit) and its own limit still drops to the allowance when the
 * window turns. No call when every draining key was listed.
 */
export async function confirmDraining(c: MemberContext): Promise<void> {
  for (const p of c.status.previousKeys ?? []) if (p.state === 'Draining') await confirmedKey(c.d, p.hash);
}

/** What a draining key spent since it was rotated away from (at most its reserve when that was not recorded). */
function overlapSpend(p: PreviousKey, k: Key, includeByok: boolean): number {
  if (p.totalUSD === undefined) return drainLimit(p, p.window);
  return roundUsd(Math.max(0, spendIn(k, 'never', includeByok) - p.totalUSD));
}

/**
 * Tends the previous keys: a Draining key keeps its reserve as its limit (a new window gives it only the
 * allowance), is disabled when its overlap ends (or at once, with `now`), and a disabled one is deleted after
 * the retention. Writes status once when anything changed.
 */
export async function tendPrevious(c: MemberContext, policy: KeyPolicy | undefined, budget: DesiredBudget | undefined, retireNow: boolean): Promise<void> {
  const d = c.d;
  const deletion = policy?.spec.deletionPolicy ?? 'Delete';
  const retainMs = parseDuration(policy?.spec.rotation?.retainDisabled ?? '1h');
  const now = c.now();
  let changed = false;
  const next: PreviousKey[] = [];
  // workloads that opted in to restarts and use this Secret: once all run the new key, the overlap can end early
  const seq = c.status.key ? parseKeyName(c.status.key.name)?.seq : undefined;
  const workloads = d.workloadsUsing(c.ns, c.secretName);
  for (const p of c.status.previousKeys ?? []) {
    // (one created during the overlap that has rolled out started with the new key)
    const pending = workloads.filter((w) => (seq === undefined || !rolledOut(w, c.secretName, seq)) && !startedAfter(w, Date.parse(p.rotatedAt)));
    const rolled = workloads.length > 0 && pending.length === 0;
    const overlapOver = now >= Date.parse(p.retireAt);
    if (p.state === 'Draining' && (retireNow || overlapOver || rolled)) {
      const keep = deletion !== 'Delete';
      let k: Key | undefined;
      try {
        // a kept key is renamed so the orphan sweep leaves it alone once it drops out of this history
        k = await d.keys.update(p.hash, { disabled: true, ...(keep && !p.name.startsWith(RELEASED_PREFIX) ? { name: RELEASED_PREFIX + p.name } : {}) });
        d.book.put(k);
      } catch (e) {
        if (!isOpenRouter(e, 'notFound')) throw e;
        d.book.remove(p.hash);
      }
      // its final spend counts against the window from now on, in place of the reserve; what it spent in the
      // overlap also counts in the next window if that begins soon (OpenRouter's may already have turned)
      const retired = k ? retiredFromDraining(k, now, Date.parse(p.rotatedAt), overlapSpend(p, k, budget?.includeByok ?? false)) : retiredFromReserve(p);
      const retiredKeys = withRetired(c.status.budget?.retiredKeys ?? [], retired, now);
      const reset = budget?.reset ?? c.status.budget?.reset ?? 'monthly';
      c.status = { ...c.status, budget: { ...(c.status.budget ?? { reset }), retiredKeys } };
      if (budget) c.carried = { usd: carriedSpend(retiredKeys, budget.reset, budget.includeByok, now), window: c.carried.window };
      next.push(k ? { ...p, state: 'Disabled', ...(keep ? {} : { deleteAt: new Date(now + retainMs).toISOString() }) } : { ...p, state: 'Deleted' });
      const stalled = !retireNow && !rolled && pending.length > 0;
      d.observe.overlapEnded(retireNow ? 'forced' : rolled ? 'rolled_out' : stalled ? 'stalled' : 'overlap', Math.max(0, (now - Date.parse(p.rotatedAt)) / 1000));
      await d.recorder.normal(c.m, 'PreviousKeyDisabled', `disabled the previous key ${p.label}: ${retireNow ? 'the member may not have a working key' : rolled ? `${workloads.length} workload(s) rolled out with the new key` : 'its overlap ended'}`);
      if (stalled) {
        const names = pending.map((w) => `${w.kind}/${w.obj.metadata?.name ?? ''}`).join(', ');
        await d.recorder.warn(c.m, 'RotationStalled', `the overlap ended before ${names} rolled out with the new key: the previous key is disabled anyway`);
        for (const w of pending) {
          const meta = w.obj.metadata;
          if (meta?.name && meta.namespace && meta.uid) await d.recorder.warn({ apiVersion: 'apps/v1', kind: w.kind, metadata: { name: meta.name, namespace: meta.namespace, uid: meta.uid } }, 'RotationStalled', `did not roll out with the new key of Secret ${c.secretName} within the overlap; the previous key is now disabled`);
        }
      }
      changed = true;
      continue;
    }
    if (p.state === 'Disabled' && p.deleteAt && now >= Date.parse(p.deleteAt)) {
      await d.keys.delete(p.hash);
      d.book.remove(p.hash);
      const { deleteAt: _done, ...rest } = p;
      next.push({ ...rest, state: 'Deleted' });
      changed = true;
      continue;
    }
    if (p.state === 'Draining' && budget?.limitUSD !== undefined) {
      // across a window boundary the reserve shrinks to the allowance
      const want = drainLimit(p, c.carried.window);
      const seen = d.book.get(p.hash);
      if (seen && !sameLimit(seen.limitUSD, want)) d.book.put(await d.keys.update(p.hash, { limitUSD: want }));
    }
    next.push(p);
  }
  if (!changed) return;
  await c.patchStatus({ ...c.status, previousKeys: next });
}
