import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MERGE, eventually } from './kube.ts';
import { startEnv, type Env } from './env.ts';
import { expectNoKeyStrings } from './scan.ts';
import { aMember, aPolicy } from '../kit/objects.ts';

let env: Env;
let n = '';
beforeAll(async () => {
  env = await startEnv({ orphanGrace: '1s' });
  // a fixed instant (a Wednesday, mid-month, midday): the weekly and monthly windows the spend below counts in do
  // not reset while the test runs, whatever the date
  env.clock.set(Date.parse('2027-03-10T12:00:00Z'));
  n = await env.newNamespace('drift');
  await env.apply(aPolicy(`drift-${n}`, { budget: { limitUSD: 4, reset: 'weekly' } }));
  // a policy naming a workspace that does not exist: every sync below must still work for everyone else
  await env.apply(aPolicy(`drift-badws-${n}`, { workspace: 'no-such-workspace' }));
});
afterAll(() => env.stop());
afterEach(() => env.emu.faults.clear());

const member = async (name: string) => {
  await env.apply(aMember(n, name, `drift-${n}`));
  return env.ready(n, name);
};
const reasons = async () => (await env.events(n)).map((e) => e.reason);
const live = (name: string) => env.emu.store.state.keys.filter((k) => k.name.includes(`/${n}/${name}/`));
/** The member's status once it holds a key other than `hash`. */
const rekeyed = (name: string, hash: string | undefined, what: string) => eventually(async () => {
  const st = (await env.member(n, name)).status;
  return st?.key?.hash && st.key.hash !== hash ? st : undefined;
}, 10_000, what);

describe('changes made outside Kubernetes are seen on the next sync', () => {
  it('replaces a key deleted in the dashboard: new key, Secret updated, Event KeyReplaced', async () => {
    const m = await member('del');
    const oldKey = (await env.secretData(n, 'del-openrouter'))['OPENROUTER_API_KEY'];
    env.emu.store.deleteKey(m.status?.key?.hash ?? '');
    await env.op.sync();
    const s = await rekeyed('del', m.status?.key?.hash, 'new key');
    expect(s.keySeq).toBe(2);
    const data = await env.secretData(n, 'del-openrouter');
    expect(data['OPENROUTER_API_KEY']).not.toBe(oldKey);
    expect((await env.chat(data['OPENROUTER_API_KEY'] ?? '')).status).toBe(200);
    expect(await reasons()).toContain('KeyReplaced');
    expect(live('del')).toHaveLength(1);
  });

  it('treats a key disabled outside as compromised: never switched back on, replaced, spend carried', async () => {
    const m = await member('leak');
    const hash = m.status?.key?.hash ?? '';
    const oldKey = (await env.secretData(n, 'leak-openrouter'))['OPENROUTER_API_KEY'] ?? '';
    env.emu.store.spend(env.emu.store.getKey(hash), { usd: 1.5 });
    env.emu.store.updateKey(hash, { disabled: true }); // the dashboard's emergency stop
    const patches = env.emu.counters()['PATCH /api/v1/keys/{hash}']?.['200'] ?? 0;
    await env.op.sync();
    // the new key first, then the status of the whole pass (budget, conditions)
    const s = await eventually(async () => {
      const st = (await env.member(n, 'leak')).status;
      return st?.key?.hash && st.key.hash !== hash && st.budget?.carriedUSD !== undefined ? st : undefined;
    }, 10_000, 'a new key and its carried spend');
    // the disabled key was deleted, never PATCHed back on
    expect(env.emu.store.state.keys.find((k) => k.hash === hash)).toBeUndefined();
    expect(env.emu.counters()['PATCH /api/v1/keys/{hash}']?.['200'] ?? 0).toBe(patches);
    const data = await env.secretData(n, 'leak-openrouter');
    expect(data['OPENROUTER_API_KEY']).not.toBe(oldKey);
    expect((await env.chat(data['OPENROUTER_API_KEY'] ?? '')).status).toBe(200);
    expect(s.budget).toMatchObject({ carriedUSD: 1.5, limitUSD: 4 });
    expect(env.emu.store.state.keys.find((k) => k.hash === s.key?.hash)?.limit).toBe(2.5);
    const events = (await env.events(n)).filter((e) => e.regarding?.name === 'leak').map((e) => e.reason);
    expect(events).toContain('KeyCompromised');
    expect(events).not.toContain('DriftCorrected');
    expect(live('leak')).toHaveLength(1);
  });

  it.each([
    ['re-limited', { limit: 100 }],
    ['reset changed', { limitReset: 'daily' as const }],
    ['BYOK changed', { includeByokInLimit: true }],
  ])('restores a key %s outside: Event DriftCorrected, same key', async (what, change) => {
    const name = `drift-${what.split(' ')[0]?.toLowerCase() ?? ''}`;
    const m = await member(name);
    const hash = m.status?.key?.hash ?? '';
    env.emu.store.updateKey(hash, change);
    await env.op.sync();
    await eventually(() => {
      const k = env.emu.store.state.keys.find((x) => x.hash === hash);
      return k && !k.disabled && k.limit === 4 && k.limitReset === 'weekly' && !k.includeByokInLimit ? k : undefined;
    }, 10_000, 'key restored');
    expect(await reasons()).toContain('DriftCorrected');
    expect((await env.member(n, name)).status?.key?.hash).toBe(hash);
  });

  it('with onDisabledOutside: Respect leaves it off and says so, across suspend and resume, until someone re-enables it', async () => {
    await env.apply(aPolicy(`drift-respect-${n}`, { budget: { limitUSD: 4, reset: 'weekly' }, onDisabledOutside: 'Respect' }));
    await env.apply(aMember(n, 'resp', `drift-respect-${n}`));
    const m = await env.ready(n, 'resp');
    const hash = m.status?.key?.hash ?? '';
    env.emu.store.updateKey(hash, { disabled: true });
    await env.op.sync();
    const ready = async () => (await env.member(n, 'resp')).status?.conditions?.find((c) => c.type === 'Ready');
    await eventually(async () => (await ready())?.reason === 'DisabledOutside' || undefined, 10_000, 'Ready=False DisabledOutside');
    expect(await ready()).toMatchObject({ status: 'False', message: expect.stringMatching(/disabled outside/) });
    const suspended = (await env.member(n, 'resp')).status?.conditions?.find((c) => c.type === 'Suspended');
    expect(suspended).toMatchObject({ status: 'False', message: expect.not.stringMatching(/the key is enabled/) });
    const keyOf = () => env.emu.store.state.keys.find((k) => k.hash === hash);
    for (const suspendedSpec of [true, false]) {
      await env.custom.patchNamespacedCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', namespace: n, plural: 'teammembers', name: 'resp', body: { spec: { suspended: suspendedSpec } } }, MERGE);
      await env.settled();
      await env.op.sync();
      await env.settled();
      expect(keyOf()?.disabled).toBe(true);
    }
    expect((await ready())?.reason).toBe('DisabledOutside');
    expect((await env.member(n, 'resp')).status?.key?.hash).toBe(hash);
    // someone decides it was a false alarm and switches it back on in the dashboard
    env.emu.store.updateKey(hash, { disabled: false });
    await env.op.sync();
    await env.ready(n, 'resp', 10_000);
    expect((await env.member(n, 'resp')).status?.key?.hash).toBe(hash);
    // a real leak this time: deleting the Secret asks for a new key, and the disabled one goes
    env.emu.store.updateKey(hash, { disabled: true });
    await env.op.sync();
    await eventually(async () => (await ready())?.reason === 'DisabledOutside' || undefined, 10_000, 'held again');
    await env.core.deleteNamespacedSecret({ namespace: n, name: 'resp-openrouter' });
    const fresh = await eventually(async () => {
      const st = (await env.member(n, 'resp')).status;
      return st?.key?.hash && st.key.hash !== hash && st.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? st : undefined;
    }, 15_000, 'a new key after the Secret was deleted');
    expect(keyOf()).toBeUndefined();
    expect((await env.chat((await env.secretData(n, 'resp-openrouter'))['OPENROUTER_API_KEY'] ?? '')).status).toBe(200);
    expect(fresh.key?.disabledOutside).toBeUndefined();
  });

  it('issues a new key when its Secret is deleted, and revokes the old one', async () => {
    const m = await member('lost');
    await env.core.deleteNamespacedSecret({ namespace: n, name: 'lost-openrouter' });
    const s = await rekeyed('lost', m.status?.key?.hash, 'replacement key');
    expect(live('lost').map((k) => k.hash)).toEqual([s.key?.hash]);
    expect((await env.chat((await env.secretData(n, 'lost-openrouter'))['OPENROUTER_API_KEY'] ?? '')).status).toBe(200);
  });

  it('issues a new key when someone overwrites the key in the Secret', async () => {
    const m = await member('edited');
    await env.core.patchNamespacedSecret({ namespace: n, name: 'edited-openrouter', body: { stringData: { OPENROUTER_API_KEY: 'sk-or-v1-tampered' } } }, MERGE);
    await eventually(async () => ((await env.member(n, 'edited')).status?.key?.hash !== m.status?.key?.hash) || undefined, 10_000, 'replacement');
    expect(live('edited')).toHaveLength(1);
  });
});

describe('HMAC key lost (a reinstall)', () => {
  it('keeps the key whose Secret still matches its hash and preview, and re-stamps the HMAC', async () => {
    const m = await member('rehmac');
    const before = await env.core.readNamespacedSecret({ namespace: n, name: 'rehmac-openrouter' });
    await env.core.patchNamespacedSecret({ namespace: n, name: 'rehmac-openrouter', body: { metadata: { annotations: { 'teamkeys.dev/key-hmac': '00'.repeat(32) } } } }, MERGE);
    await eventually(async () => {
      const s = await env.core.readNamespacedSecret({ namespace: n, name: 'rehmac-openrouter' });
      return s.metadata?.annotations?.['teamkeys.dev/key-hmac'] === before.metadata?.annotations?.['teamkeys.dev/key-hmac'] || undefined;
    }, 10_000, 'HMAC re-stamped');
    expect((await env.member(n, 'rehmac')).status?.key?.hash).toBe(m.status?.key?.hash);
    expect(live('rehmac')).toHaveLength(1);
  });
});

describe('money across replacements (invariant 3)', () => {
  it('gives a replacement key only what is left of the window, not a second budget', async () => {
    const m = await member('money');
    env.emu.store.spend(env.emu.store.getKey(m.status?.key?.hash ?? ''), { usd: 3 });
    await env.op.sync();
    await eventually(async () => ((await env.member(n, 'money')).status?.usage?.windowUSD === 3) || undefined, 10_000, 'spend observed');
    env.emu.store.deleteKey(m.status?.key?.hash ?? '');
    await env.op.sync();
    const s = await rekeyed('money', m.status?.key?.hash, 'replacement');
    const replacement = env.emu.store.getKey(s.key?.hash ?? '');
    expect(replacement.limit).toBe(1); // 4 USD a week, 3 already spent by the deleted key
    expect(s.budget).toMatchObject({ limitUSD: 4, remainingUSD: 1, carriedUSD: 3 });
    expect(s.usage?.windowUSD).toBe(3);
    env.emu.store.spend(replacement, { usd: 1 });
    const key = (await env.secretData(n, 'money-openrouter'))['OPENROUTER_API_KEY'] ?? '';
    expect((await env.chat(key)).status).toBe(403);
  });

  /** A member with a key that spent `usd` this window (observed by a sync); returns its hash. */
  const spent = async (name: string, usd: number) => {
    const m = await member(name);
    const hash = m.status?.key?.hash ?? '';
    env.emu.store.spend(env.emu.store.getKey(hash), { usd });
    await env.op.sync();
    await eventually(async () => ((await env.member(n, name)).status?.usage?.windowUSD === usd) || undefined, 10_000, 'spend observed');
    return hash;
  };
  /** The status once the replacement is complete: a new key, no create in flight, and the carried spend shown. */
  const replaced = (name: string, hash: string) => eventually(async () => {
    const st = (await env.member(n, name)).status;
    return st?.key?.hash && st.key.hash !== hash && st.pendingKey === undefined && st.budget?.carriedUSD !== undefined ? st : undefined;
  }, 20_000, `${name} replaced`);

  it('counts the old key once when revoking it fails after the intent was written, and the retry succeeds', async () => {
    const hash = await spent('money-retry', 1.5);
    // the revoke of the old key fails for one whole reconcile (the client tries each DELETE 3 times)
    env.emu.faults.set([{ route: 'DELETE /api/v1/keys/{hash}', kind: 'error', times: 3, probability: 1, status: 500, latencyMs: 0, retryAfterSeconds: 0 }]);
    await env.core.deleteNamespacedSecret({ namespace: n, name: 'money-retry-openrouter' });
    const s = await replaced('money-retry', hash);
    env.emu.faults.clear();
    expect(env.emu.counters()['DELETE /api/v1/keys/{hash}']?.['500']).toBe(3);
    expect(s.budget).toMatchObject({ carriedUSD: 1.5, remainingUSD: 2.5 });
    expect(env.emu.store.getKey(s.key?.hash ?? '').limit).toBe(2.5);
  });

  it('reads the old key fresh before retiring it, and waits rather than use a stale reading when that fails', async () => {
    const hash = await spent('money-fresh', 1);
    env.emu.store.spend(env.emu.store.getKey(hash), { usd: 1 }); // spent since the last sync
    env.emu.faults.set([{ route: 'GET /api/v1/keys/{hash}', kind: 'error', times: 3, probability: 1, status: 503, latencyMs: 0, retryAfterSeconds: 0 }]);
    await env.core.deleteNamespacedSecret({ namespace: n, name: 'money-fresh-openrouter' });
    const s = await replaced('money-fresh', hash);
    env.emu.faults.clear();
    expect(s.budget).toMatchObject({ carriedUSD: 2 });
    expect(env.emu.store.getKey(s.key?.hash ?? '').limit).toBe(2);
  });

  it('keeps counting a replaced key when the reset period changes in the same window', async () => {
    await env.apply(aPolicy(`money-reset-${n}`, { budget: { limitUSD: 4, reset: 'monthly' } }));
    await env.apply(aMember(n, 'money-reset', `money-reset-${n}`));
    const hash = (await env.ready(n, 'money-reset')).status?.key?.hash ?? '';
    env.emu.store.spend(env.emu.store.getKey(hash), { usd: 1.5 });
    await env.core.deleteNamespacedSecret({ namespace: n, name: 'money-reset-openrouter' });
    const s = await replaced('money-reset', hash);
    expect(env.emu.store.getKey(s.key?.hash ?? '').limit).toBe(2.5);
    // the same week, the tier moves to a weekly budget: what the old key spent this week still counts
    await env.custom.patchClusterCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', plural: 'keypolicies', name: `money-reset-${n}`, body: { spec: { budget: { reset: 'weekly' } } } }, MERGE);
    await eventually(() => env.emu.store.getKey(s.key?.hash ?? '').limitReset === 'weekly' || undefined, 10_000, 'weekly reset applied');
    expect(env.emu.store.getKey(s.key?.hash ?? '').limit).toBe(2.5);
    // the status is written after the key is PATCHed
    const budget = await eventually(async () => {
      const b = (await env.member(n, 'money-reset')).status?.budget;
      return b?.reset === 'weekly' ? b : undefined;
    }, 10_000, 'status shows the weekly budget');
    expect(budget).toMatchObject({ reset: 'weekly', carriedUSD: 1.5 });
  });
});

describe('orphan sweep', () => {
  it("revokes this cluster's keys that no member owns, and never touches other clusters' or foreign keys", async () => {
    const store = env.emu.store;
    const orphan = store.createKey({ name: `teamkeys/${env.clusterId}/${n}/ghost/00000000-0000-4000-8000-000000000000/1` });
    const otherCluster = store.createKey({ name: `teamkeys/someone-else/${n}/ghost/00000000-0000-4000-8000-000000000000/1` });
    const foreign = store.createKey({ name: 'my hand-made key' });
    const m = await member('owned');
    const wrongUid = store.createKey({ name: `teamkeys/${env.clusterId}/${n}/owned/11111111-0000-4000-8000-000000000000/1` });
    await new Promise((r) => setTimeout(r, 1_500)); // past the grace period
    await env.op.sync();
    const hashes = new Set(store.state.keys.map((k) => k.hash));
    expect(hashes.has(orphan.key.hash)).toBe(false);
    expect(hashes.has(wrongUid.key.hash)).toBe(false);
    expect(hashes.has(otherCluster.key.hash)).toBe(true);
    expect(hashes.has(foreign.key.hash)).toBe(true);
    expect(hashes.has(m.status?.key?.hash ?? '')).toBe(true);
    expect(env.logs.join('')).toContain('revoked an orphaned key');
    await eventually(async () => (await reasons()).includes('OrphanRevoked') || undefined, 5_000, 'OrphanRevoked event');
  });
});

it('leaks no key string into logs, Events or statuses', async () => {
  await expectNoKeyStrings(env, [n]);
});
