/**
 * Model governance enforced by OpenRouter: each policy owns one guardrail, every member key is assigned to it
 * before its Secret is written, outside edits are corrected, and a moved member's key moves with it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { MERGE, eventually } from './kube.ts';
import { startEnv, type Env } from './env.ts';
import { aMember, aPolicy, type Manifest, type PolicySpec } from '../kit/objects.ts';

const ROOT = join(import.meta.dirname, '../..');
let env: Env;
let ns = '';
let enterpriseNs = '';
beforeAll(async () => {
  env = await startEnv();
  ns = await env.newNamespace('guard', { 'teamkeys.dev/tier': 'pro' });
  enterpriseNs = await env.newNamespace('guard-ent', { 'teamkeys.dev/tier': 'enterprise' });
});
afterEach(() => env.emu.faults.clear());
afterAll(async () => {
  if (process.env['DUMP_LOGS']) (await import('node:fs')).writeFileSync(process.env['DUMP_LOGS'], env.logs.join(''));
  await env.stop();
});

interface PolicyView {
  metadata: { name: string; finalizers?: string[] };
  status?: {
    models?: string;
    guardrail?: { id: string; name: string; models?: { allow?: string[] }; assignedKeys: number; keys: number };
    conditions?: { type: string; status: string; reason: string; message: string }[];
  };
}
const getPolicy = async (name: string) => (await env.custom.getClusterCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', plural: 'keypolicies', name })) as PolicyView;
/** The guardrail this operator owns for a policy, as OpenRouter (the emulator) has it. */
const ownedId = (policy: string) => env.emu.store.state.guardrails.find((g) => g.name === `teamkeys/${env.clusterId}/${policy}`)?.id ?? 'no guardrail';
const guardrailOf = (hash: string | undefined) => env.emu.store.state.keyAssignments.find((a) => a.target === hash)?.guardrailId;
const member = (name: string, policy: string, namespace = ns) => env.apply(aMember(namespace, name, policy));
const movePolicy = (name: string, policy: string, namespace = ns) =>
  env.custom.patchNamespacedCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', namespace, plural: 'teammembers', name, body: { spec: { policy } } }, MERGE);
const policyEvents = async (reason: string) => (await env.events('default')).filter((e) => e.reason === reason && e.regarding?.kind === 'KeyPolicy');
const calls = (prefix: string) => Object.entries(env.emu.counters()).filter(([r]) => r.startsWith(prefix)).reduce((sum, [, byCode]) => sum + Object.values(byCode).reduce((a, b) => a + b, 0), 0);
const exactly = (route: string) => Object.values(env.emu.counters()[route] ?? {}).reduce((a, b) => a + b, 0);
const guardrailWrites = () => calls('POST /api/v1/guardrails') + calls('PATCH /api/v1/guardrails') + calls('DELETE /api/v1/guardrails');
/** What a pod holding the member's Secret gets from OpenRouter for a model. */
const podCall = async (name: string, model: string, namespace = ns) => {
  const key = (await env.secretData(namespace, `${name}-openrouter`))['OPENROUTER_API_KEY'] ?? '';
  const res = await env.chat(key, model);
  return { status: res.status, body: (await res.json()) as { error?: { message?: string } } };
};

/** The example tiers as shipped, renamed for this test (policies are cluster-scoped). */
async function applyTiers(): Promise<Record<string, string>> {
  const names: Record<string, string> = {};
  const docs = parseAllDocuments(readFileSync(join(ROOT, 'deploy/examples/tiers.yaml'), 'utf8')).map((d) => d.toJS() as { metadata: { name: string } });
  for (const d of docs) {
    const renamed = `${d.metadata.name}-${ns}`;
    names[d.metadata.name] = renamed;
    d.metadata.name = renamed;
  }
  await env.apply(docs.map((d) => stringify(d)).join('---\n'));
  return names;
}

describe('the example tiers', () => {
  it('enforce their model lists at OpenRouter, and a member moved to pro may call pro models with the same key', async () => {
    const tier = await applyTiers();
    await member('fay', tier['free'] ?? '');
    await member('bea', tier['basic'] ?? '');
    await member('eve', tier['enterprise'] ?? '', enterpriseNs);
    const bea = await env.ready(ns, 'bea');
    await env.ready(ns, 'fay');
    await env.ready(enterpriseNs, 'eve');

    // the policy's status follows its guardrail (a member may get its key just before the status is written)
    const basic = await eventually(async () => {
      const p = await getPolicy(tier['basic'] ?? '');
      return p.status?.guardrail?.assignedKeys === 1 ? p : undefined;
    }, 15_000, 'basic policy status');
    expect(basic.status?.models).toBe('openai/gpt-4o-mini, google/gemini-2.5-flash');
    // status shows the lists as OpenRouter reports them: canonical ids
    expect(basic.status?.guardrail).toMatchObject({ name: `teamkeys/${env.clusterId}/${tier['basic']}`, models: { allow: ['openai/gpt-4o-mini-2024-07-18', 'google/gemini-2.5-flash'] } });
    expect(basic.status?.conditions?.find((c) => c.type === 'GuardrailSynced')).toMatchObject({ status: 'True', reason: 'Synced' });
    expect(guardrailOf(bea.status?.key?.hash)).toBe(basic.status?.guardrail?.id);
    await eventually(async () => (await getPolicy(tier['enterprise'] ?? '')).status?.models === 'all' || undefined, 15_000, 'enterprise MODELS all');
    expect((await getPolicy(tier['enterprise'] ?? '')).status?.guardrail).toBeUndefined();

    expect((await podCall('fay', 'meta-llama/llama-3.3-70b-instruct:free')).status).toBe(200);
    expect((await podCall('fay', 'openai/gpt-4o-mini')).status).toBe(404);
    expect((await podCall('bea', 'openai/gpt-4o-mini')).status).toBe(200);
    const refused = await podCall('bea', 'anthropic/claude-sonnet-4');
    expect(refused.status).toBe(404);
    expect(refused.body.error?.message).toMatch(/guardrail restrictions/);
    for (const model of ['anthropic/claude-sonnet-4', 'openai/gpt-4.1', 'meta-llama/llama-3.3-70b-instruct']) expect((await podCall('eve', model, enterpriseNs)).status).toBe(200);

    await movePolicy('bea', tier['pro'] ?? '');
    const pro = await eventually(async () => {
      const p = await getPolicy(tier['pro'] ?? '');
      return p.status?.guardrail?.assignedKeys === 1 ? p : undefined;
    }, 20_000, 'pro guardrail holds the moved key');
    expect(guardrailOf(bea.status?.key?.hash)).toBe(pro.status?.guardrail?.id);
    expect((await podCall('bea', 'anthropic/claude-sonnet-4')).status).toBe(200);
    expect((await env.member(ns, 'bea')).status?.key?.hash).toBe(bea.status?.key?.hash); // no new key
    await eventually(async () => (await policyEvents('GuardrailAssigned')).some((e) => e.regarding?.name === tier['pro'] && /1 moved/.test(e.note ?? '')) || undefined, 10_000, 'GuardrailAssigned Event');

    // and to enterprise (no guardrail): the key is taken off pro's
    await env.kubectl(['label', 'ns', ns, 'teamkeys.dev/tier=enterprise', '--overwrite']);
    await movePolicy('bea', tier['enterprise'] ?? '');
    await eventually(() => guardrailOf(bea.status?.key?.hash) === undefined || undefined, 20_000, 'key released from the guardrail');
    expect((await podCall('bea', 'openai/gpt-4.1')).status).toBe(200);
    await env.kubectl(['label', 'ns', ns, 'teamkeys.dev/tier=pro', '--overwrite']);
    await env.kubectl(['delete', 'tm', '--all', '-n', ns, '--timeout=30s']);
    await env.kubectl(['delete', 'tm', '--all', '-n', enterpriseNs, '--timeout=30s']);
  });
});

describe('the policy guardrail', () => {
  const policy = (name: string, spec: PolicySpec) => env.apply(aPolicy(name, spec));

  it('is corrected after outside edits, deletion, unassignment and reassignment', async () => {
    const name = `drift-${ns}`;
    await policy(name, { models: { allow: ['openai/gpt-4o-mini'], deny: ['openai/gpt-4.1'] }, providers: { deny: ['deepinfra'] }, zeroDataRetention: false });
    for (const m of ['dee', 'dom']) await member(m, name);
    const hashes = [(await env.ready(ns, 'dee')).status?.key?.hash ?? '', (await env.ready(ns, 'dom')).status?.key?.hash ?? ''];
    const id = (await eventually(async () => (await getPolicy(name)).status?.guardrail, 10_000, 'guardrail in status')).id;

    // edited in the dashboard: restored on the next sync
    env.emu.store.updateGuardrail(id, undefined, { allowed_models: ['anthropic/claude-3.5-sonnet-20241022'], ignored_providers: null });
    await env.op.sync();
    await eventually(() => {
      const g = env.emu.store.guardrail(id).fields;
      return (g['allowed_models'] as string[])[0] === 'openai/gpt-4o-mini-2024-07-18' && (g['ignored_providers'] as string[])[0] === 'deepinfra' || undefined;
    }, 10_000, 'guardrail restored');
    await eventually(async () => (await policyEvents('GuardrailDrift')).some((e) => /edited outside/.test(e.note ?? '')) || undefined, 10_000, 'GuardrailDrift Event');
    // and the condition keeps saying so after the Event is gone
    const synced = await eventually(async () => (await getPolicy(name)).status?.conditions?.find((c) => c.type === 'GuardrailSynced' && /last drift corrected at .*edited outside/.test(c.message)), 10_000, 'drift in the condition');
    expect(synced.status).toBe('True');

    // one key unassigned, the other assigned to someone else's guardrail: both back after a sync, in one call
    const foreign = env.emu.store.createGuardrail('someone else', undefined, {});
    env.emu.store.unassign('keyAssignments', id, [hashes[0] ?? '']);
    env.emu.store.assignKeys(foreign.id, [hashes[1] ?? '']);
    const assigns = calls('POST /api/v1/guardrails/{id}/assignments/keys');
    await env.op.sync();
    await eventually(() => hashes.every((h) => guardrailOf(h) === id) || undefined, 10_000, 'keys assigned again');
    expect(calls('POST /api/v1/guardrails/{id}/assignments/keys') - assigns).toBe(1);
    await eventually(async () => (await policyEvents('GuardrailDrift')).some((e) => /2 member key\(s\) were not assigned/.test(e.note ?? '')) || undefined, 10_000, 'GuardrailDrift Event');

    // deleted outside: a new one, holding both keys
    env.emu.store.deleteGuardrail(id);
    await env.op.sync();
    const again = await eventually(async () => {
      const g = (await getPolicy(name)).status?.guardrail;
      return g && g.id !== id && g.assignedKeys === 2 ? g : undefined;
    }, 10_000, 'guardrail re-created');
    expect(hashes.map(guardrailOf)).toEqual([again.id, again.id]);
    expect(env.emu.store.state.guardrails.filter((g) => g.name === again.name)).toHaveLength(1);
    expect((await podCall('dee', 'openai/gpt-4.1')).status).toBe(404);
    await env.kubectl(['delete', 'tm', 'dee', 'dom', '-n', ns, '--timeout=30s']);
  });

  it('never lets a key reach its Secret unassigned: a failed or interrupted assignment leaves no usable key', async () => {
    const name = `crash-${ns}`;
    await policy(name, { models: { allow: ['openai/gpt-4o-mini'] } });
    const route = 'POST /api/v1/guardrails/{id}/assignments/keys';
    const named = (m: string) => env.emu.store.state.keys.filter((k) => k.name.includes(`/${ns}/${m}/`));

    // the assignment fails: the created key is revoked, never published, and a second attempt succeeds
    env.emu.faults.set([{ route, kind: 'error', times: 1, probability: 1, status: 500, latencyMs: 0, retryAfterSeconds: 0 }]);
    await member('fia', name);
    const fia = await env.ready(ns, 'fia');
    expect(named('fia').map((k) => k.hash)).toEqual([fia.status?.key?.hash]);
    expect(guardrailOf(fia.status?.key?.hash)).toBe(ownedId(name));

    // the operator dies while the assignment is in flight: the next one revokes the unpublished key
    env.emu.faults.set([{ route, kind: 'latency', times: 1, probability: 1, status: 500, latencyMs: 4_000, retryAfterSeconds: 0 }]);
    await member('cal', name);
    const first = await eventually(() => named('cal')[0], 10_000, 'first key created');
    await env.crashOperator();
    const cal = await env.ready(ns, 'cal', 30_000);
    expect(cal.status?.key?.hash).not.toBe(first.hash);
    expect(env.emu.store.state.keys.some((k) => k.hash === first.hash)).toBe(false);
    expect(guardrailOf(cal.status?.key?.hash)).toBe(ownedId(name));
    expect((await podCall('cal', 'openai/gpt-4.1')).status).toBe(404);
    await env.kubectl(['delete', 'tm', 'fia', 'cal', '-n', ns, '--timeout=30s']);
  });

  it('holds new members until it exists, assigns a rotated key before publishing it, and goes with its policy', async () => {
    const name = `life-${ns}`;
    // OpenRouter refuses an unknown model: the policy says so, and no member key is issued without the guardrail
    await policy(name, { models: { allow: ['nobody/unknown-model'] } });
    await member('ivy', name);
    const refused = await eventually(async () => (await getPolicy(name)).status?.conditions?.find((c) => c.type === 'GuardrailSynced' && c.status === 'False'), 15_000, 'GuardrailRejected');
    expect(refused).toMatchObject({ reason: 'GuardrailRejected', message: expect.stringMatching(/unknown model nobody\/unknown-model/) });
    await eventually(async () => (await env.member(ns, 'ivy')).status?.conditions?.find((c) => c.type === 'Ready' && c.reason === 'GuardrailPending'), 15_000, 'member waits');
    expect(env.emu.store.state.keys.filter((k) => k.name.includes(`/${ns}/ivy/`))).toHaveLength(0);

    await policy(name, { models: { allow: ['openai/gpt-4o-mini'] } });
    const ivy = await env.ready(ns, 'ivy', 30_000);
    const id = ownedId(name);
    expect(guardrailOf(ivy.status?.key?.hash)).toBe(id);

    await env.kubectl(['annotate', 'tm', 'ivy', '-n', ns, 'teamkeys.dev/rotate=r1']);
    const rotated = await eventually(async () => {
      const s = (await env.member(ns, 'ivy')).status;
      return s?.key?.hash !== ivy.status?.key?.hash && s?.rotation?.lastRequest === 'r1' ? s : undefined;
    }, 20_000, 'rotated');
    expect(guardrailOf(rotated.key?.hash)).toBe(id);
    expect(guardrailOf(ivy.status?.key?.hash)).toBe(id); // the draining key keeps its restrictions

    // the policy stops restricting: its guardrail goes
    await policy(name, { budget: { limitUSD: 5 } });
    await eventually(() => env.emu.store.state.guardrails.every((g) => g.id !== id) || undefined, 15_000, 'guardrail deleted');
    await eventually(async () => (await getPolicy(name)).status?.models === 'all' || undefined, 10_000, 'MODELS all');
    await policy(name, { models: { allow: ['openai/gpt-4o-mini'] } });
    const back = await eventually(async () => {
      const g = (await getPolicy(name)).status?.guardrail;
      return g && g.assignedKeys === g.keys && g.keys > 0 ? g : undefined;
    }, 15_000, 'guardrail back');
    // and the policy deleted: its guardrail with it
    await env.kubectl(['delete', 'tm', 'ivy', '-n', ns, '--timeout=30s']);
    await env.kubectl(['delete', 'keypolicy', name, '--timeout=30s']);
    expect(env.emu.store.state.guardrails.some((g) => g.id === back.id)).toBe(false);
  });

  it('makes no guardrail write when idle: 100 members in 3 policies, two syncs', async () => {
    const names = [0, 1, 2].map((i) => `idle${i}-${ns}`);
    const docs: Manifest[] = names.map((p, i) => aPolicy(p, { models: { allow: ['openai/gpt-4o-mini', ...(i === 2 ? ['google/gemini-2.5-flash'] : [])] }, providers: { deny: ['deepinfra'] }, zeroDataRetention: i === 1 }));
    for (let i = 0; i < 100; i++) docs.push(aMember(ns, `idle${i}`, names[i % 3] ?? ''));
    const [creates0, assigns0, guardrails0] = [exactly('POST /api/v1/keys'), exactly('POST /api/v1/guardrails/{id}/assignments/keys'), exactly('POST /api/v1/guardrails')];
    await env.apply(docs);
    for (let i = 0; i < 100; i++) await env.ready(ns, `idle${i}`, 60_000);
    // provisioning with a guardrail: one create and one assignment per member, one guardrail per policy
    expect(exactly('POST /api/v1/keys') - creates0).toBe(100);
    expect(exactly('POST /api/v1/guardrails/{id}/assignments/keys') - assigns0).toBe(100);
    expect(exactly('POST /api/v1/guardrails') - guardrails0).toBe(3);
    await env.op.sync();
    await env.settled(60_000, 1_000);
    const writes = guardrailWrites();
    const reads = calls('GET /api/v1/guardrails');
    await env.op.sync();
    await env.settled(60_000, 1_000);
    await env.op.sync();
    await env.settled(60_000, 1_000);
    expect(guardrailWrites() - writes).toBe(0);
    // per sync: one list of the workspace's guardrails, one assignment page per guardrail (each holds < 100 keys)
    const guardrails = env.emu.store.state.guardrails.filter((g) => g.name.startsWith(`teamkeys/${env.clusterId}/`)).length;
    expect(calls('GET /api/v1/guardrails') - reads).toBe(2 * (1 + guardrails));
    for (const p of names) expect((await getPolicy(p)).status?.guardrail).toMatchObject({ assignedKeys: expect.any(Number) });
    const total = (await Promise.all(names.map(getPolicy))).reduce((sum, p) => sum + (p.status?.guardrail?.assignedKeys ?? 0), 0);
    expect(total).toBe(100);
    await env.kubectl(['delete', 'tm', '--all', '-n', ns, '--timeout=60s']);
  });

});
