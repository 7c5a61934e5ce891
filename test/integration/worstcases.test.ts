/**
 * Worst cases, each once reproduced on a running operator: sequences that broke trust (a suspended member with a
 * live key, a member frozen by a status the API server refuses) or money (a second budget, spend forgotten), and
 * OpenRouter's clock disagreeing with the operator's. Every test here failed on the code before its fix.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { nextReset } from '../../src/util/windows.ts';
import { MERGE, eventually } from './kube.ts';
import { startEnv, type Env } from './env.ts';
import { missInListings } from './listing.ts';
import { statusErrors } from '../crdschema.ts';
import { aMember, aPolicy, type MemberSpec } from '../kit/objects.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
let env: Env;
let ns = '';
beforeAll(async () => {
  env = await startEnv();
  // far from a month boundary: one budget window through each test
  env.clock.set(nextReset('monthly', env.clock.now()) + 10 * DAY + 12 * HOUR);
  ns = await env.newNamespace('worst');
}, 60_000);
afterAll(() => env.stop());

const api = { group: 'teamkeys.dev', version: 'v1alpha1' };
const patchMember = (name: string, body: Record<string, unknown>) => env.custom.patchNamespacedCustomObject({ ...api, namespace: ns, plural: 'teammembers', name, body }, MERGE);
const emuKey = (hash: string | undefined) => env.emu.store.state.keys.find((k) => k.hash === hash);
const keysOf = (member: string) => env.emu.store.state.keys.filter((k) => k.name.includes(`/${ns}/${member}/`));
const ready = async (name: string) => (await env.member(ns, name)).status?.conditions?.find((c) => c.type === 'Ready');
const reasons = async (name: string) => (await env.events(ns)).filter((e) => e.regarding?.name === name).map((e) => e.reason ?? '');
const memberOf = (name: string, spec: MemberSpec | string) => aMember(ns, name, spec);
const settle = async () => {
  await env.op.sync();
  await env.settled();
};
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
/** Asks for a rotation and waits until it is done. */
const rotated = async (name: string) => {
  const ask = randomUUID();
  await env.kubectl(['annotate', 'tm', name, '-n', ns, '--overwrite', `teamkeys.dev/rotate=${ask}`]);
  await eventually(async () => (await env.member(ns, name)).status?.rotation?.lastRequest === ask || undefined, 15_000, `${name} rotated`);
  await env.settled();
  return ask;
};

it('suspends a member whose own limit is above a lowered memberMaxUSD, and honours its expiry too', async () => {
  const policy = `max-${ns}`;
  await env.apply(aPolicy(policy, { budget: { limitUSD: 1, memberMaxUSD: 5 } }));
  await env.apply(memberOf('sue', { policy, limitUSD: 4 }));
  await env.apply(memberOf('exp', { policy, limitUSD: 4 }));
  const sue = (await env.ready(ns, 'sue')).status?.key?.hash;
  const exp = (await env.ready(ns, 'exp')).status?.key?.hash;
  await env.apply(aPolicy(policy, { budget: { limitUSD: 1, memberMaxUSD: 2 } }));
  await eventually(async () => (await ready('sue'))?.reason === 'LimitAboveMax' || undefined, 15_000, 'sue LimitAboveMax');
  // a typo in a limit does not cut anyone off
  expect(emuKey(sue)?.disabled).toBe(false);

  await patchMember('sue', { spec: { suspended: true } });
  await eventually(() => emuKey(sue)?.disabled || undefined, 15_000, "sue's key disabled");
  await eventually(async () => (await ready('sue'))?.reason === 'Suspended' || undefined, 15_000, 'sue Ready=False Suspended');

  await patchMember('exp', { spec: { expiresAt: new Date(env.clock.now() + HOUR).toISOString().replace(/\.\d+Z$/, 'Z') } });
  await settle();
  // not yet expired: the limit above the maximum is all that is wrong, and it switches nothing off
  expect((await ready('exp'))?.reason).toBe('LimitAboveMax');
  expect(emuKey(exp)?.disabled).toBe(false);
  env.clock.advance(2 * HOUR);
  await settle();
  await eventually(() => emuKey(exp)?.disabled || undefined, 15_000, "exp's key disabled past its expiresAt");
  expect((await ready('exp'))?.reason).toBe('Expired');
});

it("replaces no key when OpenRouter's clock is 10 minutes behind (keyTTL)", async () => {
  const policy = `ttl-${ns}`;
  env.skew(-10 * 60_000);
  try {
    await env.apply(aPolicy(policy, { budget: { limitUSD: 1 }, keyTTL: '2h' }));
    await env.apply(memberOf('tia', policy));
    const first = (await env.ready(ns, 'tia')).status?.key?.hash;
    for (let i = 0; i < 5; i++) {
      env.clock.advance(60_000);
      await settle();
    }
    expect(keysOf('tia').map((k) => k.hash)).toEqual([first]);
    expect((await env.member(ns, 'tia')).status?.keySeq).toBe(1);
    expect(await reasons('tia')).not.toContain('KeyReplaced');
  } finally {
    env.skew(0);
  }
});

it('replaces keys no faster than a bounded rate when every new key is disabled outside', async () => {
  const policy = `loop-${ns}`;
  await env.apply(aPolicy(policy, { budget: { limitUSD: 1 } }));
  await env.apply(memberOf('lou', policy));
  await env.ready(ns, 'lou');
  // an admin (or a script) disables every key this member gets, as soon as it exists
  const start = env.clock.now();
  for (let i = 0; i < 12; i++) {
    for (const k of keysOf('lou')) if (!k.disabled) env.emu.store.updateKey(k.hash, { disabled: true });
    env.clock.advance(10_000);
    await settle();
  }
  const made = keysOf('lou').filter((k) => Date.parse(k.createdAt) >= start - 60_000).length;
  // two minutes of a compromise loop: a handful of keys, not one per pass
  expect(made).toBeLessThanOrEqual(5);
  const s = (await env.member(ns, 'lou')).status;
  expect(statusErrors('TeamMember', s)).toEqual([]);
  expect(s?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'ReplacementThrottled' });
  // held back or not, a suspension switches every key off at once and says so
  await patchMember('lou', { spec: { suspended: true } });
  await settle();
  expect(keysOf('lou').filter((k) => !k.disabled).map((k) => k.hash)).toEqual([]);
  expect((await ready('lou'))?.reason).toBe('Suspended');
});

it('acts on the 70th on-demand rotation within a month, with a status the API server accepts', async () => {
  const policy = `many-${ns}`;
  await env.apply(aPolicy(policy, { budget: { limitUSD: 1 }, rotation: { overlap: '0s' } }));
  await env.apply(memberOf('rot', policy));
  await env.ready(ns, 'rot');
  for (let i = 0; i < 70; i++) {
    const ask = randomUUID();
    await env.kubectl(['annotate', 'tm', 'rot', '-n', ns, '--overwrite', `teamkeys.dev/rotate=${ask}`]);
    await eventually(async () => (await env.member(ns, 'rot')).status?.rotation?.lastRequest === ask || undefined, 15_000, `rotation ${i + 1} done`);
    env.clock.advance(60_000);
  }
  const s = (await env.member(ns, 'rot')).status;
  expect(s?.rotation?.count).toBe(70);
  expect(statusErrors('TeamMember', s)).toEqual([]);
  expect(s?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'True', observedGeneration: (await env.member(ns, 'rot')).metadata.generation });
});

it('judges no key leaked when a member resumes before the status of its suspension was written', async () => {
  const policy = `sus-${ns}`;
  await env.apply(aPolicy(policy, { budget: { limitUSD: 1 } }));
  await env.apply(memberOf('res', policy));
  const hash = (await env.ready(ns, 'res')).status?.key?.hash;
  // the disabling PATCH lands, and its answer is lost after a while: the status write after it never happens
  env.emu.faults.set([{ route: 'PATCH /api/v1/keys/{hash}', kind: 'commitThenError', times: 1, probability: 1, status: 502, latencyMs: 1_500, retryAfterSeconds: 0 }]);
  await patchMember('res', { spec: { suspended: true } });
  await eventually(() => emuKey(hash)?.disabled || undefined, 10_000, 'the key disabled at OpenRouter');
  await patchMember('res', { spec: { suspended: false } });
  await settle();
  env.clock.advance(60_000);
  await settle();
  expect((await env.member(ns, 'res')).status?.key?.hash).toBe(hash);
  expect(emuKey(hash)?.disabled).toBe(false);
  expect(await reasons('res')).not.toContain('KeyCompromised');
  expect((await ready('res'))?.status).toBe('True');
});

it('keeps the spend of an idle key deleted after a commit-then-error, so the next key gets what is left', async () => {
  const policy = `idle-${ns}`;
  await env.apply(aPolicy(policy, { budget: { limitUSD: 1, reset: 'never' }, inactivity: { disableAfter: '1h', deleteAfter: '2h' } }));
  await env.apply(memberOf('ida', policy));
  const hash = (await env.ready(ns, 'ida')).status?.key?.hash ?? '';
  env.emu.store.spend(env.emu.store.getKey(hash), { usd: 0.3 });
  await settle();
  // the delete lands and its answer is slow: the operator dies before it comes (as if killed mid-call)
  env.emu.faults.set([{ route: 'DELETE /api/v1/keys/{hash}', kind: 'commitThenError', times: 1, probability: 1, status: 502, latencyMs: 5_000, retryAfterSeconds: 0 }]);
  env.clock.advance(3 * HOUR);
  await env.op.sync();
  await eventually(() => (emuKey(hash) === undefined) || undefined, 15_000, 'the idle key deleted at OpenRouter');
  await env.crashOperator();
  await settle();
  await eventually(async () => (await env.member(ns, 'ida')).status?.inactive?.keyDeleted || undefined, 15_000, 'idle key deleted');
  await eventually(async () => ((await env.member(ns, 'ida')).status?.key === undefined) || undefined, 15_000, 'status without the key');
  await env.kubectl(['annotate', 'tm', 'ida', '-n', ns, '--overwrite', `teamkeys.dev/reactivate=${randomUUID()}`]);
  const next = await eventually(async () => {
    const s = (await env.member(ns, 'ida')).status;
    return s?.key && s.key.hash !== hash && s.conditions?.find((c) => c.type === 'Ready')?.status === 'True' ? s.key : undefined;
  }, 15_000, 'a new key after reactivation');
  expect(emuKey(next.hash)?.limit).toBeCloseTo(0.7, 6);
});

it("keeps the fresh spend of a replaced key when the create after SecretLost failed and was retried", async () => {
  const policy = `lost-${ns}`;
  await env.apply(aPolicy(policy, { budget: { limitUSD: 1 } }));
  await env.apply(memberOf('los', policy));
  const hash = (await env.ready(ns, 'los')).status?.key?.hash ?? '';
  await settle(); // status.usage observed at zero spend
  // spent since the last sync: only a fresh read of the key knows it
  env.emu.store.spend(env.emu.store.getKey(hash), { usd: 0.4 });
  env.emu.faults.set([{ route: 'POST /api/v1/keys', kind: 'error', times: 1, probability: 1, status: 400, latencyMs: 0, retryAfterSeconds: 0 }]);
  await env.core.deleteNamespacedSecret({ namespace: ns, name: 'los-openrouter' });
  const next = await eventually(async () => {
    const s = (await env.member(ns, 'los')).status;
    return s?.key && s.key.hash !== hash && !s.pendingKey ? s.key : undefined;
  }, 20_000, 'a new key after the Secret was lost');
  expect(emuKey(next.hash)?.limit).toBeCloseTo(0.6, 6);
});

// OpenRouter lists keys 100 a page, newest first, by offset: a key deleted (by anyone) between two page requests
// makes the next page skip a key that exists. Absence from a listing is never taken as a deletion alone.

it('adopts the key a rotation cut short left in its Secret though listings miss it: the previous key keeps its overlap', async () => {
  const policy = `adopt-${ns}`;
  await env.apply(aPolicy(policy, { budget: { limitUSD: 1 }, rotation: { overlap: '2h' } }));
  await env.apply(memberOf('ado', policy));
  const before = (await env.ready(ns, 'ado')).status;
  const ask = await rotated('ado');
  const after = (await env.member(ns, 'ado')).status;
  const [old, next] = [before?.key, after?.key];
  if (!old || !next || !after) throw new Error('no rotation');
  // as a SIGKILL between the Secret write and the status write leaves it: the new key in the Secret, the intent in status
  await env.stopOperator();
  const m = await env.member(ns, 'ado');
  const intent = { ...after, key: old, pendingKey: { name: next.name, since: next.issuedAt ?? next.createdAt, rotation: { trigger: 'Requested' as const, request: ask, from: old.hash } }, rotation: before?.rotation };
  await env.custom.replaceNamespacedCustomObjectStatus({ ...api, namespace: ns, plural: 'teammembers', name: 'ado', body: { ...m, status: intent } });
  const undo = missInListings(env.emu, next.hash);
  try {
    await env.startOperator();
    await settle();
    const s = (await env.member(ns, 'ado')).status;
    expect(s?.key?.hash).toBe(next.hash);
    expect(s?.pendingKey).toBeUndefined();
    expect(s?.previousKeys?.find((p) => p.hash === old.hash)?.state).toBe('Draining');
    expect(emuKey(old.hash)?.disabled, 'the previous key works through its overlap').toBe(false);
    expect(keysOf('ado').map((k) => k.hash).toSorted()).toEqual([old.hash, next.hash].toSorted());
    expect(await reasons('ado')).not.toContain('KeyReplaced');
  } finally {
    undo();
  }
});

it("counts a draining key that listings miss in the member's spend: no second BudgetWarning", async () => {
  const policy = `spent-${ns}`;
  await env.apply(aPolicy(policy, { budget: { limitUSD: 1 }, rotation: { overlap: '2h' } }));
  await env.apply(memberOf('dru', policy));
  const old = (await env.ready(ns, 'dru')).status?.key?.hash ?? '';
  env.emu.store.spend(env.emu.store.getKey(old), { usd: 0.85 });
  await settle();
  await rotated('dru');
  expect((await env.member(ns, 'dru')).status?.usage?.windowUSD).toBeCloseTo(0.85, 6);
  const undo = missInListings(env.emu, old);
  try {
    await settle();
    expect((await env.member(ns, 'dru')).status?.usage?.windowUSD, 'spend while the listing misses the draining key').toBeCloseTo(0.85, 6);
  } finally {
    undo();
  }
  await settle();
  expect((await reasons('dru')).filter((r) => r === 'BudgetWarning')).toHaveLength(1);
});

it('holds a draining key that listings miss to its allowance when the window turns inside its overlap', async () => {
  const policy = `turn-${ns}`;
  await env.apply(aPolicy(policy, { budget: { limitUSD: 1, reset: 'daily' }, rotation: { overlap: '2h' } }));
  // half an hour before a daily reset
  env.clock.set(nextReset('daily', env.clock.now() + HOUR) - 30 * 60_000);
  await env.apply(memberOf('tur', policy));
  const old = (await env.ready(ns, 'tur')).status?.key?.hash ?? '';
  env.emu.store.spend(env.emu.store.getKey(old), { usd: 0.5 });
  await settle();
  await rotated('tur');
  // its spend so far and the 5% allowance
  expect(emuKey(old)?.limit).toBeCloseTo(0.55, 6);
  const undo = missInListings(env.emu, old);
  try {
    await settle();
    env.clock.advance(HOUR);
    await settle();
    // a new window: 0.55 more would be a second budget next to the new key's
    expect(emuKey(old)?.limit).toBeCloseTo(0.05, 6);
    expect(emuKey(old)?.disabled).toBe(false);
  } finally {
    undo();
  }
});

it('disables the key of a member its policy no longer admits, though listings miss the key', async () => {
  const policy = `admit-${ns}`;
  const label = 'worst.teamkeys.dev/admitted';
  await env.core.patchNamespace({ name: ns, body: { metadata: { labels: { [label]: 'yes' } } } }, MERGE);
  await env.apply(aPolicy(policy, { budget: { limitUSD: 1 }, namespaceSelector: { matchLabels: { [label]: 'yes' } } }));
  await env.apply(memberOf('adm', policy));
  const hash = (await env.ready(ns, 'adm')).status?.key?.hash ?? '';
  // the namespace leaves the policy while the operator restarts: it learns its keys from listings that miss this one
  await env.stopOperator();
  await env.core.patchNamespace({ name: ns, body: { metadata: { labels: { [label]: null } } } }, MERGE);
  const undo = missInListings(env.emu, hash);
  try {
    await env.startOperator();
    await eventually(async () => (await ready('adm'))?.reason === 'PolicyNotAllowed' || undefined, 15_000, 'adm PolicyNotAllowed');
    await settle();
    expect(emuKey(hash)?.disabled).toBe(true);
  } finally {
    undo();
  }
});

it('disables at once the key of a member whose expiresAt is set to the past, though listings miss the key', async () => {
  const policy = `gone-${ns}`;
  await env.apply(aPolicy(policy, { budget: { limitUSD: 1 } }));
  await env.apply(memberOf('eve', policy));
  const hash = (await env.ready(ns, 'eve')).status?.key?.hash ?? '';
  // set while the operator restarts: it learns its keys from listings that miss this one
  await env.stopOperator();
  await patchMember('eve', { spec: { expiresAt: iso(env.clock.now() - 60_000) } });
  const undo = missInListings(env.emu, hash);
  try {
    await env.startOperator();
    await eventually(async () => (await ready('eve'))?.reason === 'Expired' || undefined, 15_000, 'eve Expired');
    await settle();
    expect(emuKey(hash)?.disabled).toBe(true);
  } finally {
    undo();
  }
});
