import { afterAll, beforeAll, expect, it } from 'vitest';
import { startEnv, type Env } from './env.ts';
import { eventually } from './kube.ts';
import { expectNoKeyStrings } from './scan.ts';
import { aMember, aPolicy, type Manifest } from '../kit/objects.ts';

let env: Env;
let n = '';
const MEMBERS = 120;
beforeAll(async () => {
  env = await startEnv({ workers: 8 });
  // a fixed instant (mid-month, midday): the members' expiresAt of 2030 stays years away, and no budget window
  // resets between the two syncs that must write nothing, whatever the date
  env.clock.set(Date.parse('2027-03-10T12:00:00Z'));
  n = await env.newNamespace('idle');
  // far-away expiries and a long key TTL: idle must stay idle however distant the next deadline
  const docs: Manifest[] = [aPolicy(`idle-${n}`, { budget: { limitUSD: 2 }, keyTTL: '2200h', secretTemplate: { attribution: { title: 'idle:{{member}}' } } })];
  // a second policy naming the default workspace explicitly: still one listing of it per sync
  docs.push(aPolicy(`idle-ws-${n}`, { workspace: 'default' }));
  for (let i = 0; i < MEMBERS; i++) docs.push(aMember(n, `m${i}`, { policy: `idle-${n}`, ...(i % 2 ? { expiresAt: '2030-01-01T00:00:00Z' } : {}) }));
  await env.apply(docs);
  for (let i = 0; i < MEMBERS; i++) await env.ready(n, `m${i}`, 60_000);
  // converged: the policy has counted every member, and no watch event has arrived for a while
  await eventually(async () => {
    const p = (await env.custom.getClusterCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', plural: 'keypolicies', name: `idle-${n}` })) as { status?: { readyMembers?: number } };
    return p.status?.readyMembers === MEMBERS || undefined;
  }, 60_000, 'policy counted every member');
  await env.settled(60_000, 2_000);
}, 180_000);
afterAll(() => env.stop());

const resourceVersions = async () => {
  const members = (await env.custom.listNamespacedCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', namespace: n, plural: 'teammembers' })) as { items: { metadata: { name: string; resourceVersion: string } }[] };
  const secrets = await env.core.listNamespacedSecret({ namespace: n });
  const policy = (await env.custom.getClusterCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', plural: 'keypolicies', name: `idle-${n}` })) as { metadata: { resourceVersion: string } };
  return {
    members: Object.fromEntries(members.items.map((m) => [m.metadata.name, m.metadata.resourceVersion])),
    secrets: Object.fromEntries(secrets.items.map((s) => [s.metadata?.name ?? '', s.metadata?.resourceVersion ?? ''])),
    policy: policy.metadata.resourceVersion,
  };
};

it('makes zero writes anywhere when nothing changed, lists keys with ceil(N/100) calls and reads usage with one', async () => {
  const before = await resourceVersions();
  expect(Object.keys(before.members)).toHaveLength(MEMBERS);
  const calls = () => env.emu.counters();
  const c0 = calls();
  const syncs0 = env.op.stats.syncs;
  const logStart = env.logs.length;
  await env.op.sync(); // lists every key, then re-reconciles every member and the policy
  await env.settled(60_000, 1_000);
  await env.op.sync();
  await env.settled(60_000, 1_000);
  const c1 = calls();
  const delta = (route: string) => Object.values(c1[route] ?? {}).reduce((a, b) => a + b, 0) - Object.values(c0[route] ?? {}).reduce((a, b) => a + b, 0);
  expect(delta('POST /api/v1/keys')).toBe(0);
  expect(delta('PATCH /api/v1/keys/{hash}')).toBe(0);
  expect(delta('DELETE /api/v1/keys/{hash}')).toBe(0);
  expect(delta('GET /api/v1/keys/{hash}')).toBe(0);
  expect(delta('GET /api/v1/keys'), `syncs ${env.op.stats.syncs - syncs0}; ${env.logs.slice(logStart).filter((l) => !l.includes('"level":20,') || l.includes('key plan')).join('')}`).toBe(2 * Math.ceil(MEMBERS / 100));
  // usage per model: one analytics query per sync for every key, not one per key
  expect(delta('POST /api/v1/analytics/query')).toBe(2);
  expect(await resourceVersions()).toEqual(before);
  // and between syncs nothing runs at all
  const reconciles = env.op.stats.reconciles;
  await new Promise((r) => setTimeout(r, 2_000));
  expect(env.op.stats.reconciles - reconciles).toBe(0);
});

it('leaks no key string into logs, Events or statuses', async () => {
  await expectNoKeyStrings(env, [n]);
});
