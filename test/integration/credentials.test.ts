import { afterAll, describe, expect, it } from 'vitest';
import { MERGE, eventually, isGone } from './kube.ts';
import { startEnv, type Env } from './env.ts';
import { aMember, aPolicy } from '../kit/objects.ts';

const envs: Env[] = [];
afterAll(async () => {
  for (const e of envs) await e.stop();
});
const getKeyCalls = (env: Env) => Object.values(env.emu.counters()['GET /api/v1/key'] ?? {}).reduce((a, b) => a + b, 0);

describe('the management key', () => {
  it('refuses a standard key with a clear error and no hot loop, then picks up a replacement without a restart', async () => {
    const env = await startEnv({ initialKey: 'standard' });
    envs.push(env);
    const n = await env.newNamespace('creds');
    await env.apply([aPolicy(`creds-${n}`), aMember(n, 'a', `creds-${n}`)]);
    await eventually(() => env.op.credentials.current.state === 'invalid' || undefined, 10_000, 'invalid credentials');
    expect(env.op.credentials.current).toMatchObject({ state: 'invalid', reason: 'NotManagementKey', message: expect.stringMatching(/standard API key, not a management key/) });
    expect(env.op.ready).toBe(false);
    const calls = getKeyCalls(env);
    await new Promise((r) => setTimeout(r, 3_000)); // three credential checks later...
    expect(getKeyCalls(env)).toBe(calls); // ...the same bad key is not asked about again
    expect(Object.keys(env.emu.counters()).filter((r) => r.includes('/keys'))).toEqual([]);
    expect(env.logs.some((l) => l.includes('not a management key'))).toBe(true);
    await env.core.patchNamespacedSecret({ namespace: env.system, name: 'teamkeys-management-key', body: { stringData: { apiKey: env.mk } } }, MERGE);
    await eventually(() => env.op.ready || undefined, 10_000, 'ready after the Secret changed');
    await env.ready(n, 'a');
  });

  it('notices a management key revoked while it runs, pauses, and resumes when it works again', async () => {
    const env = await startEnv();
    envs.push(env);
    const n = await env.newNamespace('revoked');
    await env.apply(aPolicy(`rv-${n}`));
    const saved = env.emu.store.state.keys.filter((k) => k.management);
    env.emu.store.replace({ ...env.emu.store.state, keys: env.emu.store.state.keys.filter((k) => !k.management) });
    await env.apply(aMember(n, 'a', `rv-${n}`));
    await eventually(() => (env.op.credentials.current.state === 'invalid' && env.op.credentials.current.reason === 'Rejected') || undefined, 20_000, 'Rejected');
    expect(env.op.ready).toBe(false);
    env.emu.store.replace({ ...env.emu.store.state, keys: [...saved, ...env.emu.store.state.keys] });
    await env.ready(n, 'a', 60_000);
  });

  it('recovers by itself from a refusal that passes (no Secret change), says so in Events, and offboards what waited', async () => {
    const env = await startEnv();
    envs.push(env);
    const n = await env.newNamespace('transient');
    await env.apply(aPolicy(`tr-${n}`));
    await env.apply(aMember(n, 'gone', `tr-${n}`));
    const hash = (await env.ready(n, 'gone')).status?.key?.hash ?? '';
    // OpenRouter refuses the management key for a while (an outage on its side, a key briefly disabled)
    const saved = env.emu.store.state.keys.filter((k) => k.management);
    env.emu.store.replace({ ...env.emu.store.state, keys: env.emu.store.state.keys.filter((k) => !k.management) });
    await env.kubectl(['delete', 'tm', 'gone', '-n', n, '--wait=false']);
    await eventually(() => (env.op.credentials.current.state === 'invalid' && env.op.credentials.current.reason === 'Rejected') || undefined, 20_000, 'Rejected');
    // it comes back: nobody touches the Secret or the operator
    env.emu.store.replace({ ...env.emu.store.state, keys: [...saved, ...env.emu.store.state.keys] });
    await eventually(() => env.op.ready || undefined, 30_000, 'ready again without a Secret change');
    await eventually(() => isGone(() => env.member(n, 'gone')), 30_000, 'member offboarded');
    expect(env.emu.store.state.keys.find((k) => k.hash === hash)).toBeUndefined();
    const reasons = (await env.events(env.system)).filter((e) => e.regarding?.kind === 'Secret' && e.regarding.name === 'teamkeys-management-key').map((e) => e.reason);
    expect(reasons).toEqual(expect.arrayContaining(['ManagementKeyInvalid', 'ManagementKeyValid']));
  });

  it('reports a Secret without the key, or with it empty, and calls nothing', async () => {
    const env = await startEnv({ initialKey: 'missing' });
    envs.push(env);
    await env.core.createNamespacedSecret({ namespace: env.system, body: { metadata: { name: 'teamkeys-management-key' }, stringData: { somethingElse: 'x' } } });
    await eventually(() => (env.op.credentials.current.state === 'invalid' && env.op.credentials.current.reason === 'KeyMissing') || undefined, 10_000, 'KeyMissing');
    expect(env.op.credentials.current).toMatchObject({ message: expect.stringMatching(/has no data key "apiKey"/) });
    await env.core.replaceNamespacedSecret({ namespace: env.system, name: 'teamkeys-management-key', body: { metadata: { name: 'teamkeys-management-key' }, data: { apiKey: '' } } });
    const cur = () => env.op.credentials.current;
    await eventually(() => { const c = cur(); return (c.state === 'invalid' && c.reason === 'KeyMissing' && c.message.includes('apiKey')) || undefined; }, 10_000, 'still KeyMissing');
    await new Promise((r) => setTimeout(r, 2_000)); // two credential checks later...
    expect(env.op.credentials.current).toMatchObject({ state: 'invalid', reason: 'KeyMissing' });
    expect(getKeyCalls(env)).toBe(0); // ...OpenRouter was never asked
    expect(env.op.ready).toBe(false);
    await env.core.patchNamespacedSecret({ namespace: env.system, name: 'teamkeys-management-key', body: { stringData: { apiKey: env.mk } } }, MERGE);
    await eventually(() => env.op.ready || undefined, 10_000, 'ready');
  });

  it('reports a missing Secret and starts once it appears', async () => {
    const env = await startEnv({ initialKey: 'missing' });
    envs.push(env);
    await eventually(() => (env.op.credentials.current.state === 'invalid' && env.op.credentials.current.reason === 'SecretMissing') || undefined, 10_000, 'SecretMissing');
    await env.core.createNamespacedSecret({ namespace: env.system, body: { metadata: { name: 'teamkeys-management-key' }, stringData: { apiKey: 'sk-or-v1-not-a-real-key' } } });
    await eventually(() => (env.op.credentials.current.state === 'invalid' && env.op.credentials.current.reason === 'Rejected') || undefined, 10_000, 'Rejected');
    await env.core.patchNamespacedSecret({ namespace: env.system, name: 'teamkeys-management-key', body: { stringData: { apiKey: env.mk } } }, MERGE);
    await eventually(() => env.op.ready || undefined, 10_000, 'ready');
  });
});
