import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from './kube.ts';
import { startEnv, type Env } from './env.ts';
import { aMember, aPolicy, type MemberSpec, type PolicySpec } from '../kit/objects.ts';

let env: Env;
const namespaces: string[] = [];
beforeAll(async () => {
  env = await startEnv();
  // a fixed instant (a Wednesday, mid-month, midday) for the operator and the emulator: the daily budget below
  // stays in one window whatever the time of day, and the fixed expiresAt of 2027-06-30 stays in the future
  env.clock.set(Date.parse('2027-03-10T12:00:00Z'));
});
afterAll(() => env.stop());

const ns = async (prefix: string, labels?: Record<string, string>) => {
  const n = await env.newNamespace(prefix, labels);
  namespaces.push(n);
  return n;
};
const policy = (name: string, spec: PolicySpec) => env.apply(aPolicy(name, spec));
const member = (n: string, name: string, spec: MemberSpec | string) => env.apply(aMember(n, name, spec));
const emuKey = (hash: string | undefined) => env.emu.store.state.keys.find((k) => k.hash === hash);
const reasons = async (n: string) => (await env.events(n)).map((e) => e.reason);
/** The member's status once its Ready condition gives this reason. */
const readyBecause = (n: string, name: string, reason: string) => eventually(async () => {
  const st = (await env.member(n, name)).status;
  return st?.conditions?.find((c) => c.type === 'Ready' && c.reason === reason) ? st : undefined;
}, 10_000, reason);
const writes = () => {
  const c = env.emu.counters();
  const sum = (r: string) => Object.values(c[r] ?? {}).reduce((a, b) => a + b, 0);
  return { post: sum('POST /api/v1/keys'), patch: sum('PATCH /api/v1/keys/{hash}'), del: sum('DELETE /api/v1/keys/{hash}') };
};

describe('spend and budget', () => {
  it('follows spend into status, conditions and Events at the warning threshold and at 100%', async () => {
    const n = await ns('spend');
    await policy(`spend-${n}`, { budget: { limitUSD: 10, reset: 'daily' }, usage: { warnAtPercent: 50 } });
    await member(n, 'bob', `spend-${n}`);
    const m = await env.ready(n, 'bob');
    const hash = m.status?.key?.hash ?? '';
    env.emu.store.spend(env.emu.store.getKey(hash), { usd: 6 });
    await env.op.sync();
    await env.settled();
    let s = (await env.member(n, 'bob')).status;
    expect(s?.usage).toMatchObject({ windowUSD: 6, dailyUSD: 6 });
    expect(s?.budget).toMatchObject({ limitUSD: 10, remainingUSD: 4, reset: 'daily' });
    expect(s?.conditions?.find((c) => c.type === 'BudgetExhausted')).toMatchObject({ status: 'False', reason: 'NearLimit' });
    expect(await reasons(n)).toContain('BudgetWarning');
    env.emu.store.spend(env.emu.store.getKey(hash), { usd: 5 });
    await env.op.sync();
    await env.settled();
    s = (await env.member(n, 'bob')).status;
    expect(s?.conditions?.find((c) => c.type === 'BudgetExhausted')).toMatchObject({ status: 'True', reason: 'LimitReached' });
    expect(s?.budget?.remainingUSD).toBe(0);
    expect(await reasons(n)).toContain('BudgetExhausted');
    const { stdout } = await env.kubectl(['get', 'tm', 'bob', '-n', n, '--no-headers']);
    expect(stdout).toMatch(/bob\s+True\s+KeyReady\s+spend-\S+\s+10\s+11\s+0\s+daily/);
    const policyStatus = await eventually(async () => {
      const p = (await env.custom.getClusterCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', plural: 'keypolicies', name: `spend-${n}` })) as { status?: { spendThisWindowUSD?: number; members?: number; readyMembers?: number } };
      return p.status?.spendThisWindowUSD === 11 ? p.status : undefined;
    }, 10_000, 'policy spend');
    expect(policyStatus).toMatchObject({ members: 1, readyMembers: 1 });
  });
});

describe('suspend and resume', () => {
  it('disables the key at OpenRouter and re-enables it', async () => {
    const n = await ns('suspend');
    await policy(`susp-${n}`, { budget: { limitUSD: 3 } });
    await member(n, 'carol', `susp-${n}`);
    const m = await env.ready(n, 'carol');
    const key = (await env.secretData(n, 'carol-openrouter'))['OPENROUTER_API_KEY'] ?? '';
    await member(n, 'carol', { policy: `susp-${n}`, suspended: true });
    await eventually(() => emuKey(m.status?.key?.hash)?.disabled || undefined, 10_000, 'key disabled');
    expect((await env.chat(key)).status).toBe(401);
    const suspended = await eventually(async () => {
      const s = (await env.member(n, 'carol')).status;
      return s?.conditions?.find((c) => c.type === 'Suspended' && c.status === 'True') ? s : undefined;
    }, 10_000, 'Suspended condition');
    expect(suspended.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'Suspended' });
    await member(n, 'carol', { policy: `susp-${n}`, suspended: false });
    await env.ready(n, 'carol');
    expect(emuKey(m.status?.key?.hash)?.disabled).toBe(false);
    expect((await env.chat(key)).status).toBe(200);
    expect(await reasons(n)).toEqual(expect.arrayContaining(['KeyDisabled', 'KeyEnabled']));
  });
});

describe('deletion policies', () => {
  it.each([
    ['Delete' as const, (k: ReturnType<typeof emuKey>) => expect(k).toBeUndefined()],
    ['Disable' as const, (k: ReturnType<typeof emuKey>) => expect(k).toMatchObject({ disabled: true, name: expect.stringMatching(/^released:/) })],
    ['Retain' as const, (k: ReturnType<typeof emuKey>) => expect(k).toMatchObject({ disabled: false, name: expect.stringMatching(/^released:/) })],
  ])('%s: the key is handled before the finalizer lets go, and the Secret is removed', async (deletionPolicy, check) => {
    const n = await ns(`del-${deletionPolicy.toLowerCase()}`);
    await policy(`del-${n}`, { deletionPolicy });
    await member(n, 'dave', `del-${n}`);
    const m = await env.ready(n, 'dave');
    expect(m.metadata.finalizers).toContain('teamkeys.dev/revoke-key');
    await env.kubectl(['delete', 'tm', 'dave', '-n', n, '--wait=true', '--timeout=30s']);
    check(emuKey(m.status?.key?.hash));
    await expect(env.core.readNamespacedSecret({ namespace: n, name: 'dave-openrouter' })).rejects.toThrow();
    // a released key is not an orphan: the sweep leaves it alone
    await env.op.sync();
    check(emuKey(m.status?.key?.hash));
  });
});

describe('policy changes', () => {
  it('updates every member key with a PATCH, not a new key', async () => {
    const n = await ns('policychange');
    await policy(`pc-${n}`, { budget: { limitUSD: 5, reset: 'monthly' } });
    await member(n, 'erin', `pc-${n}`);
    await member(n, 'frank', `pc-${n}`);
    const erin = await env.ready(n, 'erin');
    const frank = await env.ready(n, 'frank');
    await env.settled();
    const before = writes();
    await policy(`pc-${n}`, { budget: { limitUSD: 8, reset: 'weekly', includeByok: true } });
    await eventually(() => emuKey(erin.status?.key?.hash)?.limit === 8 && emuKey(frank.status?.key?.hash)?.limit === 8 || undefined, 10_000, 'limits patched');
    await env.settled();
    expect(emuKey(erin.status?.key?.hash)).toMatchObject({ limit: 8, limitReset: 'weekly', includeByokInLimit: true });
    const after = writes();
    expect(after.post - before.post).toBe(0);
    expect(after.patch - before.patch).toBe(2);
    const s = (await env.member(n, 'erin')).status;
    expect(s?.budget).toMatchObject({ limitUSD: 8, reset: 'weekly' });
    expect(s?.key?.hash).toBe(erin.status?.key?.hash);
  });

  it('rejects a member limit above the policy maximum without touching the key', async () => {
    const n = await ns('limitmax');
    await policy(`lm-${n}`, { budget: { limitUSD: 5, memberMaxUSD: 20 } });
    await member(n, 'gus', { policy: `lm-${n}`, limitUSD: 15 });
    const m = await env.ready(n, 'gus');
    expect(emuKey(m.status?.key?.hash)?.limit).toBe(15);
    await member(n, 'gus', { policy: `lm-${n}`, limitUSD: 25 });
    const s = await readyBecause(n, 'gus', 'LimitAboveMax');
    expect(s.conditions?.find((c) => c.type === 'Ready')?.message).toMatch(/above the policy's maximum of 20/);
    expect(emuKey(m.status?.key?.hash)).toMatchObject({ limit: 15, disabled: false });
  });
});

describe('tenancy', () => {
  it('refuses a policy in a namespace it does not allow, and provisions once the namespace is labelled', async () => {
    const n = await ns('tenant');
    await policy(`tn-${n}`, { namespaceSelector: { matchLabels: { 'teamkeys.dev/tier': 'pro' } } });
    await member(n, 'hank', `tn-${n}`);
    const s = await readyBecause(n, 'hank', 'PolicyNotAllowed');
    expect(s.key).toBeUndefined();
    await expect(env.core.readNamespacedSecret({ namespace: n, name: 'hank-openrouter' })).rejects.toThrow();
    expect(await reasons(n)).toContain('PolicyNotAllowed');
    await env.kubectl(['label', 'namespace', n, 'teamkeys.dev/tier=pro']);
    await env.ready(n, 'hank');
  });

  it('reports a missing policy', async () => {
    const n = await ns('nopolicy');
    await member(n, 'ivy', 'does-not-exist');
    await eventually(async () => (await env.member(n, 'ivy')).status?.conditions?.find((c) => c.reason === 'PolicyNotFound'), 10_000, 'PolicyNotFound');
  });

  it('refuses to take over a Secret it does not own', async () => {
    const n = await ns('conflict');
    await policy(`cf-${n}`, { budget: { limitUSD: 1 } });
    await env.core.createNamespacedSecret({ namespace: n, body: { metadata: { name: 'jill-openrouter' }, stringData: { mine: 'yes' } } });
    await member(n, 'jill', `cf-${n}`);
    const s = await readyBecause(n, 'jill', 'SecretConflict');
    expect(s.key).toBeUndefined();
    const secret = await env.core.readNamespacedSecret({ namespace: n, name: 'jill-openrouter' });
    expect(Object.keys(secret.data ?? {})).toEqual(['mine']);
    expect(env.emu.store.state.keys.filter((k) => k.name.includes(`/${n}/jill/`))).toEqual([]);
  });

  it('gives a workshop key the member expiry and reports it as expired afterwards', async () => {
    const n = await ns('workshop');
    await policy(`ws-${n}`, { budget: { limitUSD: 2, reset: 'never' }, keyTTL: '720h' });
    const end = new Date(env.clock.now() + 4_000).toISOString().replace(/\.\d+Z$/, 'Z');
    await member(n, 'kim', { policy: `ws-${n}`, expiresAt: end });
    const m = await env.ready(n, 'kim');
    expect(emuKey(m.status?.key?.hash)?.expiresAt).toBe(end);
    await eventually(async () => (await env.member(n, 'kim')).status?.conditions?.find((c) => c.type === 'Expired' && c.status === 'True'), 15_000, 'Expired');
    const key = (await env.secretData(n, 'kim-openrouter'))['OPENROUTER_API_KEY'] ?? '';
    expect((await env.chat(key)).status).toBe(401);
  });
});

describe('offboarding by expiry', () => {
  it('reads an expiresAt with any RFC 3339 offset as the API server does: key expiry, suspension and deletion all work', async () => {
    const n = await ns('offset');
    await policy(`offset-${n}`, { budget: { limitUSD: 2 } });
    await member(n, 'ola', { policy: `offset-${n}`, expiresAt: '2027-06-30T18:00:00+02:00' });
    const m = await env.ready(n, 'ola');
    const hash = m.status?.key?.hash;
    expect(emuKey(hash)?.expiresAt).toBe('2027-06-30T16:00:00Z');
    await member(n, 'ola', { policy: `offset-${n}`, expiresAt: '2027-06-30T18:00:00+02:00', suspended: true });
    await eventually(() => emuKey(hash)?.disabled || undefined, 10_000, 'key disabled');
    await env.kubectl(['delete', 'tm', 'ola', '-n', n, '--timeout=20s']);
    expect(emuKey(hash)).toBeUndefined();
  });

  it('disables the key at once when expiresAt is moved into the past', async () => {
    const n = await ns('offboard');
    await policy(`off-${n}`, { budget: { limitUSD: 2 } });
    await member(n, 'leo', `off-${n}`);
    const m = await env.ready(n, 'leo');
    expect(emuKey(m.status?.key?.hash)?.expiresAt).toBeNull();
    await member(n, 'leo', { policy: `off-${n}`, expiresAt: '2020-01-01T00:00:00Z' });
    await eventually(() => emuKey(m.status?.key?.hash)?.disabled || undefined, 10_000, 'key disabled');
    const key = (await env.secretData(n, 'leo-openrouter'))['OPENROUTER_API_KEY'] ?? '';
    expect((await env.chat(key)).status).toBe(401);
  });
});

