/**
 * `kubectl delete namespace` on a whole cluster: the namespace controller deletes the TeamMembers, the
 * operator's finalizer offboards their keys as the policy says, and only then does the namespace go.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from './kube.ts';
import { startEnv, type Env } from './env.ts';
import type { DeletionPolicy } from '../../src/api/schema.ts';
import { aMember, aPolicy } from '../kit/objects.ts';

let env: Env;
beforeAll(async () => {
  env = await startEnv();
});
afterAll(() => env.stop());

const MEMBERS = ['ana', 'ben', 'cai', 'dee', 'eli'];
const posts = () => Object.values(env.emu.counters()['POST /api/v1/keys'] ?? {}).reduce((a, b) => a + b, 0);

/** A namespace with five Ready members under a policy with this deletionPolicy; returns their key hashes. */
async function team(deletionPolicy: DeletionPolicy): Promise<{ ns: string; hashes: string[] }> {
  const ns = await env.newNamespace(`nsdel-${deletionPolicy.toLowerCase()}`);
  await env.apply(aPolicy(ns, { budget: { limitUSD: 3 }, deletionPolicy }));
  await env.apply(MEMBERS.map((m) => aMember(ns, m, ns)));
  const hashes = [];
  for (const m of MEMBERS) hashes.push((await env.ready(ns, m)).status?.key?.hash ?? '');
  return { ns, hashes };
}

const namespaceGone = (ns: string, timeoutMs = 60_000) => eventually(async () => {
  try {
    await env.core.readNamespace({ name: ns });
    return undefined;
  } catch (e) {
    return (e as { code?: number }).code === 404 || undefined;
  }
}, timeoutMs, `namespace ${ns} deleted`);

const keys = (hashes: string[]) => hashes.map((h) => env.emu.store.state.keys.find((k) => k.hash === h));

describe('kubectl delete namespace', () => {
  it.each([
    ['Delete' as const, 'every key is deleted at OpenRouter', (ks: ReturnType<typeof keys>) => expect(ks).toEqual(ks.map(() => undefined))],
    ['Disable' as const, 'every key is kept, disabled and released', (ks: ReturnType<typeof keys>) => {
      for (const k of ks) expect(k).toMatchObject({ disabled: true, name: expect.stringMatching(/^released:teamkeys\//) });
    }],
    ['Retain' as const, 'every key is kept working and released', (ks: ReturnType<typeof keys>) => {
      for (const k of ks) expect(k).toMatchObject({ disabled: false, name: expect.stringMatching(/^released:teamkeys\//) });
    }],
  ])('with 5 live members under deletionPolicy %s: the namespace goes and %s', async (policy, _promise, check) => {
    const { ns, hashes } = await team(policy);
    expect(keys(hashes).every((k) => k && !k.disabled)).toBe(true);
    const created = posts();
    await env.kubectl(['delete', 'namespace', ns, '--wait=false']);
    await namespaceGone(ns);
    check(keys(hashes));
    // the namespace controller deletes the Secrets too: a member seen without its Secret must not get a new key
    expect(posts()).toBe(created);
  });

  it('waits on the finalizers while the operator is down, and completes once it is back', async () => {
    const { ns, hashes } = await team('Delete');
    await env.stopOperator();
    try {
      await env.kubectl(['delete', 'namespace', ns, '--wait=false']);
      // the namespace controller reports exactly what holds it: our finalizer on the five members
      const held = await eventually(async () => {
        const n = await env.core.readNamespace({ name: ns });
        const c = n.status?.conditions?.find((x) => x.type === 'NamespaceFinalizersRemaining' && x.status === 'True');
        return c ? { phase: n.status?.phase, message: c.message ?? '' } : undefined;
      }, 60_000, 'namespace held by finalizers');
      expect(held).toEqual({ phase: 'Terminating', message: expect.stringMatching(/teamkeys\.dev\/revoke-key in 5 resource instances/) });
      expect(keys(hashes).every((k) => k && !k.disabled)).toBe(true);
    } finally {
      await env.startOperator();
    }
    await namespaceGone(ns);
    expect(keys(hashes)).toEqual(hashes.map(() => undefined));
  });
});

