/**
 * The member Secret under changes and refusals: a renamed data key moves the same key, and a Secret the API
 * server refuses (a full quota, an immutable Secret) is a condition with the server's reason, never a new key per
 * attempt.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MERGE, eventually } from './kube.ts';
import { startEnv, type Env } from './env.ts';
import { expectNoKeyStrings } from './scan.ts';
import { aMember, aPolicy } from '../kit/objects.ts';

let env: Env;
const namespaces: string[] = [];
beforeAll(async () => {
  env = await startEnv();
});
afterAll(() => env.stop());

const ns = async (prefix: string) => {
  const n = await env.newNamespace(prefix);
  namespaces.push(n);
  return n;
};
const posts = () => Object.values(env.emu.counters()['POST /api/v1/keys'] ?? {}).reduce((a, b) => a + b, 0);
const member = (n: string, name: string, policy: string) => env.apply(aMember(n, name, policy));
const readyCondition = async (n: string, name: string) => (await env.member(n, name)).status?.conditions?.find((c) => c.type === 'Ready');

describe('the member Secret', () => {
  it('moves the same key when the policy renames its data key, issuing no new key', async () => {
    const n = await ns('rename');
    await env.apply(aPolicy(`rename-${n}`, { budget: { limitUSD: 3 } }));
    await Promise.all(['ivy', 'jon'].map((m) => member(n, m, `rename-${n}`)));
    const before = new Map<string, { hash: string | undefined; key: string | undefined }>();
    for (const m of ['ivy', 'jon']) before.set(m, { hash: (await env.ready(n, m)).status?.key?.hash, key: (await env.secretData(n, `${m}-openrouter`))['OPENROUTER_API_KEY'] });
    const created = posts();
    await env.custom.patchClusterCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', plural: 'keypolicies', name: `rename-${n}`, body: { spec: { secretTemplate: { keys: { apiKey: 'LLM_API_KEY' } } } } }, MERGE);
    for (const m of ['ivy', 'jon']) {
      const data = await eventually(async () => {
        const d = await env.secretData(n, `${m}-openrouter`);
        return d['LLM_API_KEY'] ? d : undefined;
      }, 15_000, `${m}'s key under LLM_API_KEY`);
      expect(data['LLM_API_KEY']).toBe(before.get(m)?.key);
      expect(data['OPENROUTER_API_KEY']).toBeUndefined();
    }
    await env.op.sync();
    await env.settled();
    for (const m of ['ivy', 'jon']) expect((await env.ready(n, m)).status?.key?.hash).toBe(before.get(m)?.hash);
    expect(posts()).toBe(created);
  });

  it('reports a Secret the namespace quota refuses, costs one key revoked at once and none more while it does, and provisions once it fits', async () => {
    const n = await ns('quota');
    await env.apply(aPolicy(`quota-${n}`, { budget: { limitUSD: 3 } }));
    await env.core.createNamespacedResourceQuota({ namespace: n, body: { metadata: { name: 'no-secrets' }, spec: { hard: { 'count/secrets': '0' } } } });
    // the quota controller must have counted the namespace before the quota admission enforces it
    await eventually(async () => (await env.core.readNamespacedResourceQuota({ namespace: n, name: 'no-secrets' })).status?.used !== undefined || undefined, 30_000, 'quota counted');
    const created = posts();
    await member(n, 'kai', `quota-${n}`);
    await eventually(async () => (await readyCondition(n, 'kai'))?.reason === 'SecretRejected' || undefined, 15_000, 'Ready=False SecretRejected');
    expect(await readyCondition(n, 'kai')).toMatchObject({ status: 'False', message: expect.stringMatching(/exceeded quota/) });
    // a first key goes without a dry run: the refusal costs that key, revoked at once; the retries dry-run first
    expect(env.emu.store.state.keys.filter((k) => k.name.includes(`/${n}/kai/`))).toHaveLength(0);
    await env.settled(10_000).catch(() => undefined);
    expect(posts()).toBe(created + 1);
    await env.core.deleteNamespacedResourceQuota({ namespace: n, name: 'no-secrets' });
    const m = await env.ready(n, 'kai', 60_000);
    expect(posts()).toBe(created + 2);
    expect(env.emu.store.state.keys.filter((k) => k.name.includes(`/${n}/kai/`))).toHaveLength(1);
    expect(m.status?.keySeq).toBe(1);
  });

  it('reports a Secret made immutable by hand when a policy change cannot be written, and keeps the key', async () => {
    const n = await ns('immutable');
    await env.apply(aPolicy(`imm-${n}`, { budget: { limitUSD: 3 } }));
    await member(n, 'lou', `imm-${n}`);
    const hash = (await env.ready(n, 'lou')).status?.key?.hash;
    await env.core.patchNamespacedSecret({ namespace: n, name: 'lou-openrouter', body: { immutable: true } }, MERGE);
    const created = posts();
    await env.custom.patchClusterCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', plural: 'keypolicies', name: `imm-${n}`, body: { spec: { secretTemplate: { attribution: { title: 'app:{{member}}' } } } } }, MERGE);
    await eventually(async () => (await readyCondition(n, 'lou'))?.reason === 'SecretRejected' || undefined, 15_000, 'Ready=False SecretRejected');
    expect(await readyCondition(n, 'lou')).toMatchObject({ message: expect.stringMatching(/immutable/) });
    expect(posts()).toBe(created);
    expect(env.emu.store.state.keys.find((k) => k.hash === hash)?.disabled).toBe(false);
  });
});

it('leaks no key string into logs, Events or statuses', async () => {
  await expectNoKeyStrings(env, namespaces);
});
