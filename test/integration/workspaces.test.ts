/**
 * Two policies in two OpenRouter workspaces: keys, guardrails, assignments, listing and the orphan sweep each stay
 * in their own workspace, and nothing done for one touches the other.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MERGE, eventually } from './kube.ts';
import { startEnv, type Env } from './env.ts';
import { expectNoKeyStrings } from './scan.ts';
import { aMember, aPolicy } from '../kit/objects.ts';

let env: Env;
let ns = '';
let research = '';
const names = { a: '', b: '' };
beforeAll(async () => {
  env = await startEnv({ orphanGrace: '1s' });
  // a fixed instant (mid-month, midday): alice's spend stays in the monthly window the test reads, whatever the date
  env.clock.set(Date.parse('2027-03-10T12:00:00Z'));
  ns = await env.newNamespace('ws');
  research = env.emu.store.createWorkspace('Research', `research-${ns}`).id;
  names.a = `ws-a-${ns}`;
  names.b = `ws-b-${ns}`;
  await env.apply([
    aPolicy(names.a, { workspace: `research-${ns}`, models: { allow: ['openai/gpt-4o-mini'] } }),
    aPolicy(names.b, { models: { allow: ['google/gemini-2.5-flash'] } }),
    aMember(ns, 'alice', names.a),
    aMember(ns, 'bruno', names.b),
  ]);
}, 60_000);
afterAll(() => env.stop());

interface PolicyView { status?: { guardrail?: { id: string; assignedKeys: number } } }
const guardrailIdOf = async (name: string) =>
  eventually(async () => ((await env.custom.getClusterCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', plural: 'keypolicies', name })) as PolicyView).status?.guardrail?.id, 15_000, `${name} guardrail`);
const guardrail = (id: string) => env.emu.store.state.guardrails.find((g) => g.id === id);
const key = (hash: string | undefined) => env.emu.store.state.keys.find((k) => k.hash === hash);
const assignment = (hash: string | undefined) => env.emu.store.state.keyAssignments.find((x) => x.target === hash)?.guardrailId;

it('keeps each policy\'s keys and guardrail in its own workspace, each key on its own guardrail', async () => {
  const alice = await env.ready(ns, 'alice');
  const bruno = await env.ready(ns, 'bruno');
  const [ga, gb] = [await guardrailIdOf(names.a), await guardrailIdOf(names.b)];
  expect(guardrail(ga)?.workspaceId).toBe(research);
  expect(guardrail(gb)?.workspaceId).not.toBe(research);
  expect(key(alice.status?.key?.hash)?.workspaceId).toBe(research);
  expect(key(bruno.status?.key?.hash)?.workspaceId).not.toBe(research);
  expect(assignment(alice.status?.key?.hash)).toBe(ga);
  expect(assignment(bruno.status?.key?.hash)).toBe(gb);
});

it('lists usage in both workspaces, and corrects drift in one without writing to the other', async () => {
  const alice = (await env.member(ns, 'alice')).status;
  env.emu.store.spend(env.emu.store.getKey(alice?.key?.hash ?? ''), { usd: 0.25 });
  const [ga, gb] = [await guardrailIdOf(names.a), await guardrailIdOf(names.b)];
  env.emu.store.updateGuardrail(ga, undefined, { allowed_models: ['openai/gpt-4.1-2025-04-14'] });
  const bBefore = structuredClone(guardrail(gb));
  await env.op.sync();
  await eventually(async () => (await env.member(ns, 'alice')).status?.usage?.windowUSD === 0.25 || undefined, 10_000, 'usage from the research workspace');
  await eventually(() => (guardrail(ga)?.fields['allowed_models'] as string[] | undefined)?.[0] === 'openai/gpt-4o-mini-2024-07-18' || undefined, 10_000, 'A restored');
  await env.settled();
  expect(guardrail(gb)).toEqual(bBefore);
});

it('sweeps orphans in every workspace in use, and only this cluster\'s', async () => {
  const store = env.emu.store;
  const ghost = `teamkeys/${env.clusterId}/${ns}/ghost/00000000-0000-4000-8000-000000000000/1`;
  const orphan = store.createKey({ name: ghost, workspaceId: research });
  const foreign = store.createKey({ name: 'a research notebook key', workspaceId: research });
  env.clock.advance(2_000); // past the grace period, for the operator and the emulator alike
  await env.op.sync();
  expect(key(orphan.key.hash)).toBeUndefined();
  expect(key(foreign.key.hash)).toBeDefined();
});

it('stops nothing when a policy served elsewhere records a workspace this account does not know', async () => {
  // another OpenRouter account's operator shares the cluster and pooled a policy: its status names that account's
  // workspace, which every listing here meets (400 at the guardrail list, as OpenRouter answers an unknown workspace)
  const foreign = `ws-foreign-${ns}`;
  await env.apply(aPolicy(foreign, { pool: { monthly: 5 } }));
  await env.custom.patchClusterCustomObjectStatus({ group: 'teamkeys.dev', version: 'v1alpha1', plural: 'keypolicies', name: foreign, body: { status: { workspace: { ref: 'tk-elsewhere', id: '00000000-0000-4000-8000-00000000beef', owned: true } } } }, MERGE);
  const c = `ws-c-${ns}`;
  await env.apply([aPolicy(c, { models: { allow: ['openai/gpt-4o-mini'] } }), aMember(ns, 'carla', c)]);
  const carla = await env.ready(ns, 'carla');
  expect(assignment(carla.status?.key?.hash)).toBe(await guardrailIdOf(c));
  // and costs no call: a policy this operator does not serve is not its to list
  const refused = () => ['GET /api/v1/guardrails', 'GET /api/v1/keys'].map((r) => env.emu.counters()[r]?.['400'] ?? 0);
  const before = refused();
  await env.op.sync();
  expect(refused()).toEqual(before);
  expect(env.logs.filter((l) => /could not list|reconcile failed/.test(l))).toEqual([]);
  await env.kubectl(['delete', 'tm', 'carla', '-n', ns, '--timeout=30s']);
  await env.kubectl(['delete', 'keypolicy', c, foreign, '--timeout=30s']);
});

it('deletes only its own guardrail when a policy goes', async () => {
  const [ga, gb] = [await guardrailIdOf(names.a), await guardrailIdOf(names.b)];
  const bruno = (await env.member(ns, 'bruno')).status;
  await env.kubectl(['delete', 'tm', 'alice', '-n', ns, '--timeout=30s']);
  await env.kubectl(['delete', 'keypolicy', names.a, '--timeout=30s']);
  expect(guardrail(ga)).toBeUndefined();
  expect(guardrail(gb)).toBeDefined();
  expect(assignment(bruno?.key?.hash)).toBe(gb);
});

it('moves a policy\'s guardrail with its workspace: made there, the moved keys on it, the old one gone, no drift', async () => {
  const name = `ws-m-${ns}`;
  const second = env.emu.store.createWorkspace('Second', `second-${ns}`).id;
  await env.apply([aPolicy(name, { models: { allow: ['openai/gpt-4o-mini'] } }), aMember(ns, 'mia', name)]);
  const old = (await env.ready(ns, 'mia')).status?.key?.hash;
  const ours = () => env.emu.store.state.guardrails.filter((g) => g.name === `teamkeys/${env.clusterId}/${name}`);
  const first = await guardrailIdOf(name);
  await env.apply(aPolicy(name, { workspace: `second-${ns}`, models: { allow: ['openai/gpt-4o-mini'] } }));
  const mia = await eventually(async () => {
    const st = (await env.member(ns, 'mia')).status;
    return st?.rotation?.lastTrigger === 'WorkspaceMoved' && st.key?.hash !== old ? st : undefined;
  }, 15_000, 'mia moved');
  await env.op.sync();
  await env.settled();
  expect(ours().map((g) => g.workspaceId)).toEqual([second]);
  expect(ours()[0]?.id).not.toBe(first);
  expect(key(mia.key?.hash)?.workspaceId).toBe(second);
  expect(assignment(mia.key?.hash)).toBe(ours()[0]?.id);
  const policyView = (await env.custom.getClusterCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', plural: 'keypolicies', name })) as { status?: { guardrail?: { id: string; lastDrift?: { what: string } } } };
  expect(policyView.status?.guardrail).toMatchObject({ id: ours()[0]?.id });
  // a move is not drift (a rotation's key assigned to the old guardrail in the instant it goes is put back by the
  // next pass, and only that is said: docs/governance.md)
  expect(policyView.status?.guardrail?.lastDrift?.what ?? '', 'a move is not drift').not.toMatch(/edited outside|deleted outside/);
  await env.kubectl(['delete', 'tm', 'mia', '-n', ns, '--timeout=30s']);
  await env.kubectl(['delete', 'keypolicy', name, '--timeout=30s']);
  expect(ours()).toEqual([]);
});

it('leaks no key string into logs, Events or statuses', async () => {
  await expectNoKeyStrings(env, [ns]);
});
