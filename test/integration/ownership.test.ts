/**
 * The member Secret and the garbage collector of a whole cluster: how each `kubectl delete --cascade` mode
 * treats the Secret, and what happens to the key (docs/lifecycle.md: "Deleting members and namespaces").
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from './kube.ts';
import { startEnv, type Env } from './env.ts';
import type { DeletionPolicy } from '../../src/api/schema.ts';
import { aMember, aPolicy } from '../kit/objects.ts';

let env: Env;
const namespaces: string[] = [];
beforeAll(async () => {
  env = await startEnv();
});
afterAll(() => env.stop());

/** A namespace and a Ready member `m` under a policy with this deletionPolicy. */
async function member(deletionPolicy: DeletionPolicy) {
  const ns = await env.newNamespace(`own-${deletionPolicy.toLowerCase()}`);
  namespaces.push(ns);
  await env.apply(aPolicy(ns, { budget: { limitUSD: 3 }, deletionPolicy }));
  await env.apply(aMember(ns, 'm', ns));
  const m = await env.ready(ns, 'm');
  const apiKey = (await env.secretData(ns, 'm-openrouter'))['OPENROUTER_API_KEY'] ?? '';
  expect((await env.chat(apiKey)).status).toBe(200);
  return { ns, hash: m.status?.key?.hash ?? '', apiKey, uid: m.metadata.uid };
}

const gone = (ns: string) => eventually(async () => {
  try {
    await env.member(ns, 'm');
    return undefined;
  } catch (e) {
    return (e as { code?: number }).code === 404 || undefined;
  }
}, 45_000, `${ns}/m deleted`);

const emuKey = (hash: string) => env.emu.store.state.keys.find((k) => k.hash === hash);

describe('deleting a TeamMember', () => {
  it.each(['background', 'foreground'])('with --cascade=%s removes the Secret and revokes the key', async (cascade) => {
    const { ns, hash } = await member('Delete');
    await env.kubectl(['delete', 'tm', 'm', '-n', ns, `--cascade=${cascade}`, '--wait=false']);
    // the garbage collector picks up a new CRD at its next discovery (every 30 s): foreground waits for it
    await gone(ns);
    await expect(env.core.readNamespacedSecret({ namespace: ns, name: 'm-openrouter' })).rejects.toMatchObject({ code: 404 });
    expect(emuKey(hash)).toBeUndefined();
  });

  it('with --cascade=orphan and deletionPolicy Retain keeps the Secret, un-owned, with a key that still works', async () => {
    const { ns, hash, apiKey, uid } = await member('Retain');
    await env.kubectl(['delete', 'tm', 'm', '-n', ns, '--cascade=orphan', '--wait=false']);
    await gone(ns);
    const s = await env.core.readNamespacedSecret({ namespace: ns, name: 'm-openrouter' });
    expect(s.metadata?.ownerReferences ?? []).not.toContainEqual(expect.objectContaining({ uid }));
    expect(Buffer.from(s.data?.['OPENROUTER_API_KEY'] ?? '', 'base64').toString()).toBe(apiKey);
    expect(emuKey(hash)).toMatchObject({ disabled: false, name: expect.stringMatching(/^released:/) });
    expect((await env.chat(apiKey)).status).toBe(200);
  });

  it('with --cascade=orphan and deletionPolicy Delete keeps the Secret but still revokes its key', async () => {
    const { ns, hash, apiKey } = await member('Delete');
    await env.kubectl(['delete', 'tm', 'm', '-n', ns, '--cascade=orphan', '--wait=false']);
    await gone(ns);
    await env.core.readNamespacedSecret({ namespace: ns, name: 'm-openrouter' });
    expect(emuKey(hash)).toBeUndefined();
    expect((await env.chat(apiKey)).status).toBe(401);
  });

  it('a kept Secret is never taken over by a new member of the same name', async () => {
    const ns = namespaces.find((n) => n.includes('own-retain')) ?? '';
    await env.apply(aMember(ns, 'm', ns));
    const ready = await eventually(async () => (await env.member(ns, 'm')).status?.conditions?.find((c) => c.type === 'Ready'), 30_000, 'a Ready condition');
    expect(ready).toMatchObject({ status: 'False', reason: 'SecretConflict' });
  });
});

