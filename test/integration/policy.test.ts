/**
 * One mistake is not an outage (invariant 9): deleting a KeyPolicy that members still use waits until they are
 * gone, as Kubernetes protects a PersistentVolumeClaim in use, and says which members hold it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MERGE, eventually } from './kube.ts';
import { startEnv, type Env } from './env.ts';
import { expectNoKeyStrings } from './scan.ts';
import { aMember, aPolicy } from '../kit/objects.ts';

let env: Env;
let ns = '';
beforeAll(async () => {
  env = await startEnv();
  ns = await env.newNamespace('inuse');
});
afterAll(() => env.stop());

interface PolicyView { metadata: { finalizers?: string[] }; status?: { conditions?: { type: string; status: string; reason: string; message: string }[] } }
const getPolicy = async (name: string) => (await env.custom.getClusterCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', plural: 'keypolicies', name })) as PolicyView;
const policyGone = (name: string) => eventually(async () => getPolicy(name).then(() => undefined, (e: { code?: number }) => e.code === 404 || undefined), 30_000, `KeyPolicy ${name} deleted`);
const members = (policy: string, names: string[]) => env.apply(names.map((m) => aMember(ns, m, policy)));
const emuKey = (hash: string | undefined) => env.emu.store.state.keys.find((k) => k.hash === hash);

describe('deleting a KeyPolicy', () => {
  it('waits while members use it, names them, keeps their keys working, and completes when the last one goes', async () => {
    const policy = `inuse-${ns}`;
    await env.apply(aPolicy(policy, { budget: { limitUSD: 3 }, deletionPolicy: 'Retain' }));
    await members(policy, ['ann', 'bo', 'cy']);
    const hashes = [];
    for (const m of ['ann', 'bo', 'cy']) hashes.push((await env.ready(ns, m)).status?.key?.hash);
    expect((await getPolicy(policy)).metadata.finalizers).toContain('teamkeys.dev/in-use');

    await env.kubectl(['delete', 'keypolicy', policy, '--wait=false']);
    const held = await eventually(async () => (await getPolicy(policy)).status?.conditions?.find((c) => c.type === 'Ready' && c.reason === 'InUse'), 15_000, 'Ready=False InUse');
    expect(held).toMatchObject({ status: 'False', message: expect.stringMatching(new RegExp(`3 TeamMembers.*${ns}/ann, ${ns}/bo, ${ns}/cy`)) });
    await env.op.sync();
    await env.settled();
    for (const m of ['ann', 'bo', 'cy']) {
      const s = (await env.member(ns, m)).status;
      expect(s?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'True', reason: 'KeyReady' });
      expect(s?.conditions?.find((c) => c.type === 'Suspended')?.message).toBe('the key is enabled');
      expect(emuKey(s?.key?.hash)?.disabled).toBe(false);
    }

    await env.kubectl(['delete', 'tm', 'ann', 'bo', '-n', ns, '--timeout=30s']);
    await eventually(async () => (await getPolicy(policy)).status?.conditions?.find((c) => c.reason === 'InUse' && /1 TeamMember\b/.test(c.message)), 15_000, 'one member left');
    await env.kubectl(['delete', 'tm', 'cy', '-n', ns, '--timeout=30s']);
    await policyGone(policy);
    // the members were offboarded under the policy they had (Retain), not a default
    for (const h of hashes) expect(emuKey(h)).toMatchObject({ disabled: false, name: expect.stringMatching(/^released:/) });
  });

  it('lets go once the member that used it moves to another policy, which keeps its key', async () => {
    const [from, to] = [`from-${ns}`, `to-${ns}`];
    await env.apply([from, to].map((p) => aPolicy(p, { budget: { limitUSD: 3 } })));
    await members(from, ['dan']);
    const hash = (await env.ready(ns, 'dan')).status?.key?.hash;
    await env.kubectl(['delete', 'keypolicy', from, '--wait=false']);
    await eventually(async () => (await getPolicy(from)).status?.conditions?.find((c) => c.reason === 'InUse'), 15_000, 'held');
    await env.custom.patchNamespacedCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', namespace: ns, plural: 'teammembers', name: 'dan', body: { spec: { policy: to } } }, MERGE);
    await policyGone(from);
    expect((await env.ready(ns, 'dan')).status?.key?.hash).toBe(hash);
  });

  it('goes at once when the members that used it are gone', async () => {
    const policy = `unused-${ns}`;
    await env.apply(aPolicy(policy, { budget: { limitUSD: 3 } }));
    await members(policy, ['eve']);
    await env.ready(ns, 'eve');
    expect((await getPolicy(policy)).metadata.finalizers).toContain('teamkeys.dev/in-use');
    await env.kubectl(['delete', 'tm', 'eve', '-n', ns, '--timeout=30s']);
    await env.kubectl(['delete', 'keypolicy', policy, '--timeout=30s']);
    await policyGone(policy);
  });
});

it('leaks no key string into logs, Events or statuses', async () => {
  await expectNoKeyStrings(env, [ns]);
});
