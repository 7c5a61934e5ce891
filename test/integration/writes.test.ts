/**
 * What provisioning costs: Kubernetes writes and OpenRouter writes per member, counted by the operator's own
 * adapters (every write it sends) and by the emulator, for a burst of members under one policy.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startEnv, type Env } from './env.ts';
import { aPolicy, members } from '../kit/objects.ts';

const MEMBERS = 20;
let env: Env;
let ns = '';
beforeAll(async () => {
  env = await startEnv();
  ns = await env.newNamespace('writes');
}, 60_000);
afterAll(() => env.stop());

it('provisions a member with at most the writes it needs', async () => {
  await env.apply(aPolicy(`writes-${ns}`, { budget: { limitUSD: 1 } }));
  // the operator's first key listing (and its usage read) done, as in a running operator: a burst that starts it
  // would see members already Ready pass once more when the first analytics arrive, which is not what this counts
  await env.op.sync();
  await env.settled();
  const k0 = new Map(env.op.cluster.writes);
  const r0 = new Map(env.op.cluster.reads);
  const c0 = env.emu.counters();
  await env.apply(members(ns, 'm', MEMBERS, `writes-${ns}`));
  for (let i = 0; i < MEMBERS; i++) await env.ready(ns, `m${i}`);
  await env.settled();
  const per: Record<string, number> = {};
  for (const [what, n] of env.op.cluster.writes) if (n - (k0.get(what) ?? 0) > 0) per[what] = (n - (k0.get(what) ?? 0)) / MEMBERS;
  const c1 = env.emu.counters();
  const orWrites = ['POST /api/v1/keys', 'PATCH /api/v1/keys/{hash}', 'DELETE /api/v1/keys/{hash}'].reduce((sum, r) => sum + Object.values(c1[r] ?? {}).reduce((a, b) => a + b, 0) - Object.values(c0[r] ?? {}).reduce((a, b) => a + b, 0), 0);
  // the finalizer (the claim), the Secret and the status: a first key's intent is its name (no status write before
  // the create), its Secret is checked at apply time (no dry run), and the claim's guarded write proves the cached
  // member current (no confirming read); the policy's status counts its members as they get ready
  expect(per).toEqual({ 'TeamMember finalizers': 1, 'member status': 1, 'Secret create': 1, 'policy status': expect.any(Number), ...(per['KeyPolicy finalizers'] ? { 'KeyPolicy finalizers': per['KeyPolicy finalizers'] } : {}) });
  expect(per['policy status']).toBeLessThan(1);
  // (the management key's Secret is read again on its own interval, whatever the members do)
  const memberReads = (m: ReadonlyMap<string, number>) => (m.get('TeamMember') ?? 0) + (m.get('member Secret') ?? 0);
  expect(memberReads(env.op.cluster.reads) - memberReads(r0)).toBe(0);
  expect(orWrites / MEMBERS).toBe(1);
});
