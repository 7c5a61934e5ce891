/**
 * The whole member pass (gather → decide → act → report) on an in-memory world (test/kit/world.ts): fake
 * TeamMembers, Secrets and OpenRouter, a manual clock, the real books. Each case asserts what OpenRouter, the
 * Secret, the status and the Events end up with, and the calls it took.
 */
import { parseKeyName } from '../../src/controller/keyname.ts';
import { nextKeyName } from '../../src/controller/member/plan.ts';
import { describe, expect, it } from 'vitest';
import { ANNOTATION_ISSUED_AT, ANNOTATION_KEY_HASH, ANNOTATION_REACTIVATE, ANNOTATION_ROTATE, FINALIZER } from '../../src/api/schema.ts';
import { RELEASED_PREFIX } from '../../src/controller/keyname.ts';
import type { Key } from '../../src/domain/key.ts';
import { OpenRouterError } from '../../src/openrouter/errors.ts';
import { DAY, HOUR, MINUTE, T0, World } from '../kit/world.ts';
import type { PolicySpec } from '../kit/objects.ts';

const API_KEY = 'OPENROUTER_API_KEY';

/** A world with policy `gold` (10 USD a month unless told) and member alice holding her first key. */
async function provisioned(policy: PolicySpec = {}): Promise<{ w: World; first: Key }> {
  const w = new World();
  w.policy('gold', { budget: { limitUSD: 10 }, ...policy });
  w.member('alice', 'gold');
  await w.pass('alice');
  const first = w.keyOf('alice');
  if (!first) throw new Error('alice got no key');
  w.keys.resetCalls();
  return { w, first };
}

/** The methods of the OpenRouter calls made since the last reset. */
const methods = (w: World) => w.keys.calls.map((c) => c.method);

describe('a new member', () => {
  it('gets one key at the policy limit, a Secret holding it, and Ready=True KeyReady', async () => {
    const w = new World();
    w.policy('gold', { budget: { limitUSD: 10 } });
    w.member('alice', 'gold');

    expect(await w.pass('alice')).toEqual({});

    const [key, ...others] = w.keysOf('alice');
    expect(others).toEqual([]);
    expect(key).toMatchObject({ disabled: false, limitUSD: 10, reset: 'monthly', includeByok: false, expiresAt: undefined });
    const status = w.get('alice').status;
    expect(status?.key?.hash).toBe(key?.hash);
    expect(status?.key).toMatchObject({ label: key?.label, limitUSD: 10, disabled: false, issuedAt: new Date(T0 + 1_000).toISOString() });
    expect(status?.pendingKey).toBeUndefined();
    const secret = w.secretOf('alice');
    expect(secret?.annotations[ANNOTATION_KEY_HASH]).toBe(key?.hash);
    expect(secret?.data[API_KEY]).toBe(w.keys.secretOf(key?.hash ?? ''));
    expect(secret?.data['OPENROUTER_BASE_URL']).toBe('https://openrouter.test/api/v1');
    expect(w.ready('alice')).toEqual({ status: 'True', reason: 'KeyReady' });
    expect(w.servedProblems('alice')).toEqual([]);
    // the first listing, one create; the Secret and the report (a first key's intent is its name: no write)
    expect(methods(w)).toEqual(['list', 'create']);
    expect(w.writes()).toMatchObject({ status: 1, secrets: 1, dryRuns: 0 });
    expect(secret?.annotations[ANNOTATION_ISSUED_AT]).toBe(status?.key?.issuedAt);
    // a first key makes no Event: the Ready condition says it
    expect(w.events).toEqual([]);
  });

  it('as applied, costs three Kubernetes requests: the claim, the Secret, the status (no read, no dry run)', async () => {
    const w = new World();
    w.policy('gold', { budget: { limitUSD: 10 } });
    w.applied('alice', 'gold');

    expect(await w.pass('alice')).toEqual({});

    // the claim's guarded write proved the cached member current: no confirming read
    expect(w.writes()).toMatchObject({ status: 2, secrets: 1, dryRuns: 0 });
    expect(w.reads()).toBe(0);
    expect(w.members.statusWrites).toBe(1);
    expect(w.get('alice').metadata.finalizers).toEqual([FINALIZER]);
    expect(w.ready('alice')).toEqual({ status: 'True', reason: 'KeyReady' });
  });

  it('then is quiet: an idle pass makes no OpenRouter call and writes nothing, after a sync too', async () => {
    const { w } = await provisioned();
    const before = w.writes();

    expect(await w.pass('alice')).toEqual({});
    await w.sync();
    w.keys.resetCalls();
    expect(await w.pass('alice')).toEqual({});

    expect(w.keys.calls).toEqual([]);
    expect(w.writes()).toEqual({ ...before, keyCalls: 0 });
  });

  it('does not get a second key while the Secret cache lags behind the write (the fresh read decides)', async () => {
    const w = new World();
    w.policy('gold', { budget: { limitUSD: 10 } });
    w.member('alice', 'gold');
    w.secrets.lag();

    await w.pass('alice');
    await w.pass('alice');

    expect(w.keysOf('alice')).toHaveLength(1);
    expect(methods(w).filter((m) => m === 'create' || m === 'delete')).toEqual(['create']);
    expect(w.servedProblems('alice')).toEqual([]);
  });
});

describe('the key plan', () => {
  it('keep: a served member with an intact key changes nothing', async () => {
    const { w, first } = await provisioned();
    await w.pass('alice');
    expect(w.keyOf('alice')?.hash).toBe(first.hash);
    expect(w.keys.calls).toEqual([]);
  });

  /** A first key made and in its Secret, and the pass cut before its report: the key is in no status. */
  async function crashedAfterSecret(): Promise<{ w: World; created: Key | undefined }> {
    const w = new World();
    w.policy('gold', { budget: { limitUSD: 10 } });
    w.member('alice', 'gold');
    w.faults.failNext('secret', true);
    await expect(w.pass('alice')).rejects.toThrow(/connection was cut/);
    expect(w.get('alice').status?.key).toBeUndefined();
    return { w, created: w.keysOf('alice')[0] };
  }

  it('recover, adopt: a crash after the Secret was written keeps the key the Secret holds', async () => {
    const { w, created } = await crashedAfterSecret();
    // a first key records no intent: its name, the next in sequence, is the intent
    expect(w.get('alice').status?.pendingKey).toBeUndefined();
    expect(created?.name).toBe(nextKeyName(w.clusterId, w.get('alice'), w.get('alice').status ?? {}));
    const issuedAt = w.secretOf('alice')?.annotations[ANNOTATION_ISSUED_AT];

    w.restart(); // a new process: empty books
    w.keys.resetCalls();
    await w.settle('alice');

    expect(w.keyOf('alice')?.hash).toBe(created?.hash);
    expect(w.get('alice').status?.key?.issuedAt).toBe(issuedAt);
    expect(w.get('alice').status?.keySeq).toBe(1);
    expect(w.keysOf('alice')).toHaveLength(1);
    expect(methods(w)).not.toContain('create');
    expect(w.eventReasons()).not.toContain('OrphanRevoked');
    expect(w.servedProblems('alice')).toEqual([]);
  });

  it('offboarding after a restart finds a first key the crash left (the book listed first), and revokes it', async () => {
    const { w, created } = await crashedAfterSecret();

    w.restart(); // a new process: its book not listed yet when the deletion is offboarded
    w.deleteMember('alice');
    await w.pass('alice');

    expect(w.keys.key(created?.hash ?? '')).toBeUndefined();
    expect(w.members.get('team', 'alice')).toBeUndefined();
  });

  it('recover, revoke: a create whose answer was lost leaves a key no Secret holds: it is revoked, then a new one made', async () => {
    const w = new World();
    w.policy('gold', { budget: { limitUSD: 10 } });
    w.member('alice', 'gold');
    w.keys.loseNextCreate = true;
    await expect(w.pass('alice')).rejects.toMatchObject({ kind: 'server', status: 502 });
    const [lost] = w.keysOf('alice');
    expect(lost?.name).toBe(nextKeyName(w.clusterId, w.get('alice'), w.get('alice').status ?? {}));

    expect(await w.pass('alice')).toEqual({ retry: true });
    expect(w.keys.key(lost?.hash ?? '')).toBeUndefined();
    expect(w.get('alice').status?.pendingKey).toBeUndefined();
    expect(w.eventReasons('alice')).toEqual(['OrphanRevoked']);

    await w.pass('alice');
    expect(w.keysOf('alice')).toHaveLength(1);
    expect(w.keyOf('alice')?.hash).not.toBe(lost?.hash);
    expect(w.servedProblems('alice')).toEqual([]);
  });

  it('hold: a key disabled outside under onDisabledOutside Respect is left alone, Ready=False DisabledOutside', async () => {
    const { w, first } = await provisioned({ onDisabledOutside: 'Respect' });
    w.keys.changeOutside(first.hash, { disabled: true });
    await w.sync();
    w.keys.resetCalls();

    await w.pass('alice');

    expect(w.ready('alice')).toEqual({ status: 'False', reason: 'DisabledOutside' });
    expect(w.keysOf('alice').map((k) => [k.hash, k.disabled])).toEqual([[first.hash, true]]);
    expect(methods(w).filter((m) => m !== 'get')).toEqual([]); // read fresh, never changed
    expect(w.get('alice').status?.key).toMatchObject({ hash: first.hash, disabled: true, disabledOutside: true });
    expect(w.eventReasons('alice')).toEqual(['DisabledOutside']);
    // and it stays held, quietly
    w.keys.resetCalls();
    const before = w.writes();
    await w.pass('alice');
    expect(w.writes()).toEqual({ ...before, keyCalls: 0 });
  });

  it('create, Initial: no key yet', async () => {
    const { w } = await provisioned();
    expect(w.get('alice').status?.keySeq).toBe(1);
    expect(w.keyOf('alice')?.name).toBe('teamkeys/test/team/alice/uid-alice/1');
  });

  it('create, Deleted: a key deleted at OpenRouter is replaced, Event KeyReplaced', async () => {
    const { w, first } = await provisioned();
    w.keys.deleteOutside(first.hash);
    await w.sync();

    await w.pass('alice');

    const now = w.keyOf('alice');
    expect(now?.hash).not.toBe(first.hash);
    expect(now?.name).toBe('teamkeys/test/team/alice/uid-alice/2');
    expect(w.eventReasons('alice')).toEqual(['KeyReplaced']);
    expect(w.events[0]?.message).toMatch(/deleted outside Kubernetes/);
    expect(w.servedProblems('alice')).toEqual([]);
  });

  it('create, SecretLost: a deleted Secret gets a new key, and the old key is revoked', async () => {
    const { w, first } = await provisioned();
    w.secrets.removeOutside('team', 'alice-openrouter');

    await w.pass('alice');

    expect(w.keys.key(first.hash)).toBeUndefined();
    expect(w.keysOf('alice')).toHaveLength(1);
    expect(w.eventReasons('alice')).toEqual(['KeyReplaced']);
    expect(w.events[0]?.message).toMatch(/Secret no longer held the key \(old key revoked\)/);
    expect(w.servedProblems('alice')).toEqual([]);
  });

  it('create, SecretLost: a Secret whose key was overwritten gets a new key, and the old key is revoked', async () => {
    const { w, first } = await provisioned();
    w.secrets.edit('team', 'alice-openrouter', (s) => {
      s.data[API_KEY] = `sk-or-v1-${'0'.repeat(64)}`;
    });

    await w.pass('alice');

    expect(w.keys.key(first.hash)).toBeUndefined();
    expect(w.keyOf('alice')?.hash).not.toBe(first.hash);
    expect(w.eventReasons('alice')).toEqual(['KeyReplaced']);
    expect(w.servedProblems('alice')).toEqual([]);
  });

  it('create, ExpiryShortened: a member expiresAt moved before the key expiry', async () => {
    const { w, first } = await provisioned({ keyTTL: '720h' });
    expect(first.expiresAt).toBe('2026-04-09T09:00:01Z');
    w.editSpec('alice', { expiresAt: '2026-03-20T00:00:00Z' });

    await w.pass('alice');

    expect(w.keys.key(first.hash)).toBeUndefined();
    expect(w.keyOf('alice')?.expiresAt).toBe('2026-03-20T00:00:00Z');
    expect(w.eventReasons('alice')).toEqual(['KeyReplaced']);
    expect(w.events[0]?.message).toMatch(/shortened expiresAt or keyTTL/);
    expect(w.servedProblems('alice')).toEqual([]);
  });

  it('create, ExpiryShortened: the policy keyTTL shortened', async () => {
    const { w, first } = await provisioned({ keyTTL: '720h' });
    w.policy('gold', { budget: { limitUSD: 10 }, keyTTL: '240h' });

    await w.pass('alice');

    const now = w.keyOf('alice');
    expect(now?.hash).not.toBe(first.hash);
    expect(Date.parse(now?.expiresAt ?? '') - w.clock.now()).toBeLessThanOrEqual(240 * HOUR);
    expect(w.eventReasons('alice')).toEqual(['KeyReplaced']);
    expect(w.servedProblems('alice')).toEqual([]);
  });

  it('create, KeyExpired: the key ran out while the member is valid', async () => {
    const { w, first } = await provisioned({ keyTTL: '24h' });
    const r = await w.pass('alice');
    expect(r.requeueAfterMs).toBeLessThanOrEqual(DAY + 1_000);
    w.later(DAY);

    await w.pass('alice');

    const now = w.keyOf('alice');
    expect(now?.hash).not.toBe(first.hash);
    expect(Date.parse(now?.expiresAt ?? '')).toBeGreaterThan(w.clock.now());
    expect(w.keys.key(first.hash)).toBeUndefined();
    expect(w.eventReasons('alice')).toEqual(['KeyReplaced']);
    expect(w.events[0]?.message).toMatch(/reached its expiry/);
    expect(w.servedProblems('alice')).toEqual([]);
  });

  it('create, Compromised: a key disabled outside is replaced and deleted, Event KeyCompromised', async () => {
    const { w, first } = await provisioned();
    w.keys.changeOutside(first.hash, { disabled: true });
    await w.sync();

    await w.pass('alice');

    expect(w.keys.key(first.hash)).toBeUndefined();
    const status = w.get('alice').status;
    expect(status?.key?.hash).not.toBe(first.hash);
    expect(status?.previousKeys).toEqual([expect.objectContaining({ hash: first.hash, state: 'Deleted' })]);
    expect(status?.rotation).toMatchObject({ count: 1, lastTrigger: 'Compromised' });
    expect(w.observed.rotated).toEqual(['Compromised']);
    expect(w.eventReasons('alice')).toEqual(['KeyCompromised']);
    expect(w.servedProblems('alice')).toEqual([]);
  });
});

describe('rotation', () => {
  it('on request: a new key, the previous one Draining at its reserve, retired after the overlap, deleted after retention', async () => {
    const { w, first } = await provisioned();
    w.keys.spend(first.hash, 2);
    w.annotate('alice', ANNOTATION_ROTATE, 'x');

    await w.pass('alice');

    const second = w.keyOf('alice');
    expect(second?.hash).not.toBe(first.hash);
    // the previous key may spend what it had spent plus 5% of the limit; the new key gets the rest
    expect(w.keys.key(first.hash)).toMatchObject({ disabled: false, limitUSD: 2.5 });
    expect(second?.limitUSD).toBe(7.5);
    expect(w.get('alice').status?.previousKeys).toEqual([expect.objectContaining({ hash: first.hash, state: 'Draining', spentUSD: 2, allowanceUSD: 0.5 })]);
    expect(w.get('alice').status?.rotation).toMatchObject({ count: 1, lastTrigger: 'Requested', lastRequest: 'x' });
    expect(w.eventReasons('alice')).toEqual(['KeyRotated']);
    expect(w.servedProblems('alice')).toEqual([]);

    // the same request is not acted on twice
    await w.pass('alice');
    expect(w.keysOf('alice')).toHaveLength(2);

    // the previous key spends a little more in its overlap, then the overlap ends
    w.keys.spend(first.hash, 0.3);
    w.later(10 * MINUTE);
    await w.settle('alice');
    expect(w.keys.key(first.hash)).toMatchObject({ disabled: true });
    expect(w.get('alice').status?.previousKeys).toEqual([expect.objectContaining({ hash: first.hash, state: 'Disabled' })]);
    // what it spent is carried: the new key's limit is what is left of the member's
    expect(w.keyOf('alice')?.limitUSD).toBe(7.7);
    expect(w.get('alice').status?.budget?.carriedUSD).toBe(2.3);
    expect(w.observed.overlapEnded).toEqual(['overlap']);
    expect(w.servedProblems('alice')).toEqual([]);

    w.later(HOUR);
    await w.pass('alice');
    expect(w.keys.key(first.hash)).toBeUndefined();
    expect(w.get('alice').status?.previousKeys).toEqual([expect.objectContaining({ hash: first.hash, state: 'Deleted' })]);
    expect(w.keysOf('alice').map((k) => k.hash)).toEqual([second?.hash]);
    expect(w.servedProblems('alice')).toEqual([]);
  });

  it('ends the overlap once every opted-in workload rolled out with the new key, but not while an Argo Rollout uses the Secret', async () => {
    for (const rollouts of [0, 1]) {
      const { w, first } = await provisioned({ rotation: { overlap: '1h' } });
      w.annotate('alice', ANNOTATION_ROTATE, 'r');
      await w.pass('alice');
      const seq = parseKeyName(w.get('alice').status?.key?.name ?? '')?.seq;
      // a Deployment whose pods all run the template that records the new key
      w.workloads = [{ kind: 'Deployment', obj: {
        metadata: { name: 'app', namespace: 'team', generation: 2, creationTimestamp: new Date(0) },
        spec: { replicas: 1, selector: {}, template: { metadata: { annotations: { 'teamkeys.dev/key-generations': `alice-openrouter=${seq ?? 0}` } } } },
        status: { observedGeneration: 2, replicas: 1, updatedReplicas: 1, availableReplicas: 1 },
      } }];
      w.rollouts = rollouts;
      w.later(MINUTE);
      await w.pass('alice');
      expect(w.keys.key(first.hash)?.disabled, rollouts ? 'a Rollout keeps the previous key for the overlap' : 'rolled out: retired early').toBe(rollouts === 0);
      expect(w.get('alice').status?.previousKeys?.[0]?.state).toBe(rollouts ? 'Draining' : 'Disabled');
    }
  });

  it('never hands out more than the member limit at any step', async () => {
    const { w, first } = await provisioned({ rotation: { overlap: '30m', overlapAllowancePercent: 20 } });
    w.keys.spend(first.hash, 9);
    w.annotate('alice', ANNOTATION_ROTATE, 'y');
    const totals: number[] = [];
    const total = () => w.keysOf('alice').filter((k) => !k.disabled).reduce((t, k) => t + (k.limitUSD ?? Infinity), 0) + (w.get('alice').status?.budget?.carriedUSD ?? 0);

    for (let i = 0; i < 5; i++) {
      await w.pass('alice');
      totals.push(total());
      w.later(10 * MINUTE);
    }
    await w.settle('alice');
    totals.push(total());

    // 9 spent, 1 left: the allowance is capped by what is left, never 20% of 10 on top of the 9
    expect(w.keys.key(first.hash)?.disabled).toBe(true);
    expect(Math.max(...totals)).toBeLessThanOrEqual(10);
    expect(w.keyOf('alice')?.limitUSD).toBe(1);
  });
});

describe('convergence', () => {
  it('a limit changed outside is restored, Event DriftCorrected', async () => {
    const { w, first } = await provisioned();
    w.keys.changeOutside(first.hash, { limitUSD: 100 });
    await w.sync();
    w.keys.resetCalls();

    await w.pass('alice');

    expect(w.keys.key(first.hash)?.limitUSD).toBe(10);
    expect(w.keys.calls).toEqual([{ method: 'update', hash: first.hash, change: { disabled: false, limitUSD: 10, reset: 'monthly', includeByok: false } }]);
    expect(w.eventReasons('alice')).toEqual(['DriftCorrected']);
  });

  it('a policy limit changed updates the key, Event KeyUpdated', async () => {
    const { w, first } = await provisioned();
    w.policy('gold', { budget: { limitUSD: 20, reset: 'weekly' } });

    await w.pass('alice');

    expect(w.keys.key(first.hash)).toMatchObject({ limitUSD: 20, reset: 'weekly' });
    expect(w.get('alice').status?.key).toMatchObject({ hash: first.hash, limitUSD: 20, reset: 'weekly' });
    expect(w.get('alice').status?.budget).toMatchObject({ limitUSD: 20, reset: 'weekly' });
    expect(w.eventReasons('alice')).toEqual(['KeyUpdated']);
    expect(w.servedProblems('alice')).toEqual([]);
  });
});

describe('suspension', () => {
  it('disables the key (Ready=False Suspended) and resuming enables it again', async () => {
    const { w, first } = await provisioned();
    w.editSpec('alice', { suspended: true });

    await w.pass('alice');

    expect(w.keys.key(first.hash)?.disabled).toBe(true);
    expect(w.ready('alice')).toEqual({ status: 'False', reason: 'Suspended' });
    expect(w.get('alice').status?.key).toMatchObject({ hash: first.hash, disabled: true });
    expect(w.eventReasons('alice')).toEqual(['KeyDisabled']);

    w.editSpec('alice', { suspended: false });
    await w.pass('alice');

    expect(w.keys.key(first.hash)?.disabled).toBe(false);
    expect(w.keysOf('alice')).toHaveLength(1);
    expect(w.eventReasons('alice')).toEqual(['KeyDisabled', 'KeyEnabled']);
    expect(w.servedProblems('alice')).toEqual([]);
  });

  it('never re-enables a key disabled outside', async () => {
    const { w, first } = await provisioned({ onDisabledOutside: 'Respect' });
    w.keys.changeOutside(first.hash, { disabled: true });
    await w.sync();
    await w.pass('alice');
    w.editSpec('alice', { suspended: true });
    await w.pass('alice');
    w.editSpec('alice', { suspended: false });
    await w.pass('alice');
    await w.sync();
    await w.pass('alice');

    expect(w.keys.key(first.hash)?.disabled).toBe(true);
    expect(w.keys.calls.filter((c) => c.change?.disabled === false)).toEqual([]);
    expect(w.ready('alice')).toEqual({ status: 'False', reason: 'DisabledOutside' });
  });
});

describe('offboarding', () => {
  /** alice after one rotation retired (k1 Disabled), then a second one whose create answer was lost (k2 Draining, k3 pending). */
  async function midRotation(deletionPolicy: 'Delete' | 'Disable') {
    const { w, first } = await provisioned({ deletionPolicy });
    w.annotate('alice', ANNOTATION_ROTATE, '1');
    await w.pass('alice');
    w.later(10 * MINUTE);
    await w.pass('alice');
    const second = w.keyOf('alice');
    w.annotate('alice', ANNOTATION_ROTATE, '2');
    w.keys.loseNextCreate = true;
    await expect(w.pass('alice')).rejects.toThrow(OpenRouterError);
    const status = w.get('alice').status;
    expect(status?.previousKeys?.map((p) => [p.hash, p.state])).toEqual([[first.hash, 'Disabled'], [second?.hash, 'Draining']]);
    expect(status?.pendingKey).toBeDefined();
    expect(w.keysOf('alice')).toHaveLength(3);
    return w;
  }

  it('deletionPolicy Delete deletes every key (current, previous, pending) and the Secret, then lets the member go', async () => {
    const w = await midRotation('Delete');
    w.restart();
    w.deleteMember('alice');

    expect(await w.finalize('alice')).toEqual({});

    expect(w.keysOf('alice')).toEqual([]);
    expect(w.secretOf('alice')).toBeUndefined();
    expect(w.members.get('team', 'alice')).toBeUndefined();
    expect(w.eventReasons('alice')).toContain('KeyRevoked');
  });

  it('deletionPolicy Disable keeps every key, disabled and renamed released:, and deletes the Secret', async () => {
    const w = await midRotation('Disable');
    w.restart();
    w.deleteMember('alice');

    expect(await w.finalize('alice')).toEqual({});

    const kept = w.keysOf('alice');
    expect(kept).toHaveLength(3);
    for (const k of kept) {
      expect(k.disabled).toBe(true);
      expect(k.name.startsWith(`${RELEASED_PREFIX}teamkeys/test/team/alice/`)).toBe(true);
    }
    expect(w.secretOf('alice')).toBeUndefined();
    expect(w.members.get('team', 'alice')).toBeUndefined();
  });
});

describe('inactivity', () => {
  it('disables an idle key, then deletes it, and a reactivation issues a new key', async () => {
    const { w, first } = await provisioned({ inactivity: { disableAfter: '2h', deleteAfter: '5h' } });
    w.later(2 * HOUR);

    await w.pass('alice');
    expect(w.keys.key(first.hash)?.disabled).toBe(true);
    expect(w.ready('alice')).toEqual({ status: 'False', reason: 'Inactive' });
    expect(w.get('alice').status?.inactive).toMatchObject({ keyDeleted: false });

    w.later(3 * HOUR);
    await w.pass('alice');
    expect(w.keys.key(first.hash)).toBeUndefined();
    expect(w.get('alice').status?.key).toBeUndefined();
    expect(w.get('alice').status?.inactive).toMatchObject({ keyDeleted: true });
    expect(w.ready('alice')).toEqual({ status: 'False', reason: 'Inactive' });

    // nothing happens by itself
    w.later(DAY);
    await w.pass('alice');
    expect(w.keysOf('alice')).toEqual([]);

    w.annotate('alice', ANNOTATION_REACTIVATE, 'back');
    await w.pass('alice');
    expect(w.keyOf('alice')?.hash).not.toBe(first.hash);
    expect(w.get('alice').status?.inactive).toBeUndefined();
    expect(w.eventReasons('alice')).toEqual(['KeyDisabled', 'Inactive', 'InactiveKeyDeleted', 'KeyReactivated']);
    expect(w.servedProblems('alice')).toEqual([]);
  });

  it('keeps a key that spends', async () => {
    const { w, first } = await provisioned({ inactivity: { disableAfter: '2h' } });
    w.later(HOUR);
    w.keys.spend(first.hash, 0.01);
    await w.sync();
    await w.pass('alice');
    w.later(90 * MINUTE);
    await w.pass('alice');
    expect(w.keys.key(first.hash)?.disabled).toBe(false);
    expect(w.servedProblems('alice')).toEqual([]);
  });
});

describe('more of what a member may be', () => {
  it('suspended mid-rotation: the draining key stops working too', async () => {
    const { w, first } = await provisioned();
    w.annotate('alice', ANNOTATION_ROTATE, 'x');
    await w.pass('alice');
    const second = w.keyOf('alice');
    w.editSpec('alice', { suspended: true });

    await w.pass('alice');

    expect(w.keys.key(first.hash)?.disabled).toBe(true);
    expect(w.keys.key(second?.hash ?? '')?.disabled).toBe(true);
    expect(w.get('alice').status?.previousKeys).toEqual([expect.objectContaining({ hash: first.hash, state: 'Disabled' })]);
    expect(w.observed.overlapEnded).toEqual(['forced']);
  });

  it('past its expiresAt: the key is disabled, Ready=False Expired, and no new key comes', async () => {
    const w = new World();
    w.policy('gold', { budget: { limitUSD: 10 } });
    w.member('alice', { policy: 'gold', expiresAt: '2026-03-10T12:00:00Z' });
    await w.pass('alice');
    const first = w.keyOf('alice');
    expect(first?.expiresAt).toBe('2026-03-10T12:00:00Z');

    w.later(3 * HOUR);
    await w.settle('alice');

    expect(w.keysOf('alice').map((k) => [k.hash, k.disabled])).toEqual([[first?.hash, true]]);
    expect(w.ready('alice')).toEqual({ status: 'False', reason: 'Expired' });
  });

  it('a limit above the policy maximum freezes the key as it is: Ready=False LimitAboveMax', async () => {
    const { w, first } = await provisioned();
    w.editSpec('alice', { limitUSD: 50 });

    await w.pass('alice');

    expect(w.keys.key(first.hash)).toMatchObject({ disabled: false, limitUSD: 10 });
    expect(w.keys.calls.filter((c) => c.method !== 'get')).toEqual([]);
    expect(w.ready('alice')).toEqual({ status: 'False', reason: 'LimitAboveMax' });
  });

  it('a scheduled rotation comes due as the clock moves', async () => {
    const { w, first } = await provisioned({ rotation: { every: '24h', overlap: '1h' } });
    const r = await w.pass('alice');
    expect(r.requeueAfterMs).toBeLessThanOrEqual(DAY);
    w.later(r.requeueAfterMs ?? 0);

    await w.pass('alice');

    expect(w.keyOf('alice')?.hash).not.toBe(first.hash);
    expect(w.get('alice').status?.rotation).toMatchObject({ count: 1, lastTrigger: 'Scheduled' });
    expect(w.observed.rotated).toEqual(['Scheduled']);
    expect(w.servedProblems('alice')).toEqual([]);
  });

  it('replacements that keep coming are throttled: the third in a day waits, Ready=False ReplacementThrottled', async () => {
    const { w } = await provisioned();
    for (let i = 0; i < 2; i++) {
      w.secrets.removeOutside('team', 'alice-openrouter');
      await w.pass('alice');
      expect(w.servedProblems('alice')).toEqual([]);
    }
    const held = w.keyOf('alice');
    w.keys.resetCalls();
    w.secrets.removeOutside('team', 'alice-openrouter');

    const r = await w.pass('alice');

    expect(w.keyOf('alice')?.hash).toBe(held?.hash);
    expect(methods(w)).not.toContain('create');
    expect(w.ready('alice')).toEqual({ status: 'False', reason: 'ReplacementThrottled' });
    expect(r.requeueAfterMs).toBeLessThanOrEqual(31_000);
    w.later(r.requeueAfterMs ?? 0);
    await w.pass('alice');
    expect(w.keyOf('alice')?.hash).not.toBe(held?.hash);
    expect(w.servedProblems('alice')).toEqual([]);
  });

  it('a renamed Secret data key moves the key string, no new key', async () => {
    const { w, first } = await provisioned();
    w.policy('gold', { budget: { limitUSD: 10 }, secretTemplate: { keys: { apiKey: 'LLM_KEY' } } });

    await w.pass('alice');

    expect(w.keyOf('alice')?.hash).toBe(first.hash);
    expect(w.secretOf('alice')?.data['LLM_KEY']).toBe(w.keys.secretOf(first.hash));
    expect(w.secretOf('alice')?.data[API_KEY]).toBeUndefined();
    expect(w.keys.calls).toEqual([]);
    expect(w.servedProblems('alice')).toEqual([]);
  });

  it('a reinstall that lost the HMAC key keeps every key (the preview vouches for it) and stamps the HMAC again', async () => {
    const { w, first } = await provisioned();
    w.restart({ loseHmacKey: true });

    await w.settle('alice');

    expect(w.keyOf('alice')?.hash).toBe(first.hash);
    expect(methods(w)).not.toContain('create');
    expect(w.servedProblems('alice')).toEqual([]);
  });
});

describe('idle is quiet', () => {
  const states: { name: string; policy?: PolicySpec; reach: (w: World, first: Key) => Promise<void> }[] = [
    { name: 'served', reach: async () => undefined },
    { name: 'suspended', reach: async (w) => void w.editSpec('alice', { suspended: true }) },
    { name: 'draining a rotation', reach: async (w) => void w.annotate('alice', ANNOTATION_ROTATE, 'x') },
    {
      name: 'after a rotation, the previous key disabled',
      reach: async (w) => {
        w.annotate('alice', ANNOTATION_ROTATE, 'x');
        await w.settle('alice');
        w.later(11 * MINUTE);
      },
    },
    { name: 'without its policy', reach: async (w) => w.removePolicy('gold') },
    { name: 'holding a key disabled outside', policy: { onDisabledOutside: 'Respect' }, reach: async (w, first) => {
      w.keys.changeOutside(first.hash, { disabled: true });
      await w.sync();
    } },
    { name: 'inactive', policy: { inactivity: { disableAfter: '2h' } }, reach: async (w) => w.later(3 * HOUR) },
    { name: 'inactive, its key deleted', policy: { inactivity: { disableAfter: '2h', deleteAfter: '5h' } }, reach: async (w) => w.later(6 * HOUR) },
    { name: 'spending', reach: async (w, first) => {
      w.keys.spend(first.hash, 8.5);
      await w.sync();
    } },
  ];

  it.each(states)('$name: once settled, a pass after a sync makes no call and writes nothing', async ({ policy, reach }) => {
    const { w, first } = await provisioned(policy);
    await reach(w, first);
    await w.settle('alice');
    await w.sync();
    w.keys.resetCalls();
    const before = w.writes();

    await w.pass('alice');

    expect(w.keys.calls).toEqual([]);
    expect(w.writes()).toEqual({ ...before, keyCalls: 0 });
  });
});
