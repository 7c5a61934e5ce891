/**
 * A team's pooled budget: spec.pool set as the budgets of a workspace the operator creates and owns, enforced by
 * OpenRouter (the emulator) at inference while every member still has room of its own; the policy's status and
 * `kubectl get kp` say so. Then the pool is taken off: members' keys move back to the default workspace by a
 * rotation, and the owned workspace is deleted once it holds no key. Two policies pooling one workspace do not
 * fight over its budgets.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { KeyPolicyStatus } from '../../src/api/schema.ts';
import { eventually } from './kube.ts';
import { startEnv, type Env } from './env.ts';
import { aMember, aPolicy, members } from '../kit/objects.ts';

let env: Env;
let n = '';
const HOUR = 3_600_000;
beforeAll(async () => {
  env = await startEnv();
  // mid-month, midday: the monthly pool does not reset while the test spends
  env.clock.set(Date.parse('2027-03-10T12:00:00Z'));
  n = await env.newNamespace('pool');
});
afterAll(() => env.stop());

const policyStatus = async (name: string) => ((await env.custom.getClusterCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', plural: 'keypolicies', name })) as { status?: KeyPolicyStatus }).status;
const emuKey = (hash: string | undefined) => env.emu.store.state.keys.find((k) => k.hash === hash);
const workspace = (id: string | undefined) => env.emu.store.state.workspaces.find((w) => w.id === id);
const team = ['m0', 'm1', 'm2', 'm3', 'm4'];

it('a $20 monthly pool over five members with $10 each is refused at OpenRouter when the pool runs out, and kubectl get kp says why', async () => {
  const name = `team-${n}`;
  await env.apply(aPolicy(name, { budget: { limitUSD: 10, reset: 'monthly' }, pool: { monthly: 20 } }));
  await env.apply(members(n, 'm', 5, name));
  for (const m of team) await env.ready(n, m);
  const s = await eventually(async () => {
    const st = await policyStatus(name);
    return st?.workspace && st.conditions?.some((c) => c.type === 'Pool' && c.status === 'True') ? st : undefined;
  }, 10_000, 'pool applied');
  expect(s.workspace).toMatchObject({ owned: true, ref: expect.stringMatching(/^tk-team-pool-[a-z0-9-]+$/) });
  const ws = workspace(s.workspace?.id);
  expect(ws?.slug).toBe(s.workspace?.ref);
  // every member key lives in the pool's workspace
  const keys = await Promise.all(team.map(async (m) => (await env.member(n, m)).status?.key?.hash));
  for (const h of keys) expect(emuKey(h)?.workspaceId, 'a member key is in the pool workspace').toBe(ws?.id);

  // the team spends $3.50 each ($17.50), then keeps calling until OpenRouter refuses
  for (const h of keys) {
    const k = emuKey(h);
    if (k) env.emu.store.spend(k, { usd: 3.5 });
  }
  const apiKeys = await Promise.all(team.map(async (m) => (await env.secretData(n, `${m}-openrouter`))['OPENROUTER_API_KEY'] ?? ''));
  let refusal = '';
  const statuses = new Set<number>();
  for (let i = 0; i < 2_000 && !refusal; i++) {
    const res = await fetch(`${env.emuUrl}/api/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${apiKeys[i % 5] ?? ''}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'openai/gpt-4o-mini', max_tokens: 100_000, messages: [{ role: 'user', content: 'hi' }] }) });
    statuses.add(res.status);
    if (res.status === 403) refusal = ((await res.json()) as { error: { message: string } }).error.message;
    else await res.body?.cancel();
  }
  expect([...statuses].toSorted((a, b) => a - b), 'every call served until the pool refused').toEqual([200, 403]);
  expect(refusal).toMatch(/Workspace budget exceeded \(monthly limit\)/);
  const spent = keys.map((h) => emuKey(h)?.usage ?? 0);
  const total = spent.reduce((a, b) => a + b, 0);
  expect(total, 'the pool stops the team at $20 (plus at most one request per key)').toBeGreaterThanOrEqual(20);
  expect(total).toBeLessThan(20 + 5 * 0.07);
  for (const usd of spent) expect(usd, 'each member still has room of its own').toBeLessThan(10);

  await env.op.sync();
  await env.settled();
  const after = await eventually(async () => {
    const st = await policyStatus(name);
    return st?.conditions?.some((c) => c.type === 'PoolBudget' && c.reason === 'Exhausted') ? st : undefined;
  }, 10_000, 'PoolBudget Exhausted');
  expect(after.pool?.windows).toEqual([{ window: 'monthly', limitUSD: 20, spendUSD: expect.closeTo(total, 2), remainingUSD: 0 }]);
  expect(after.pool?.refusesFirst).toBe('Pool');
  const { stdout } = await env.kubectl(['get', 'kp', name, '--no-headers']);
  expect(stdout).toMatch(/\b\d+\.\d\d\/20 monthly\s+Exhausted\b/);
  // the policy's Events (cluster-scoped: as the operator recorded them)
  const told = env.logs.filter((l) => l.includes(`"object":"KeyPolicy/${name}"`)).map((l) => /"reason":"(\w+)"/.exec(l)?.[1]);
  expect(told).toEqual(expect.arrayContaining(['WorkspaceCreated', 'PoolBudgetSet', 'PoolExhausted']));
  // the members are Ready: their own keys are fine, the pool is what refuses
  for (const m of team) expect((await env.member(n, m)).status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
});

it('taking the pool off moves the keys back to the default workspace by rotation, and deletes the owned workspace once empty', async () => {
  const name = `team-${n}`;
  const before = await policyStatus(name);
  const owned = before?.workspace;
  expect(owned?.owned).toBe(true);
  const old = await Promise.all(team.map(async (m) => (await env.member(n, m)).status?.key?.hash));
  await env.apply(aPolicy(name, { budget: { limitUSD: 10, reset: 'monthly' } }));
  const moved = await eventually(async () => {
    const st = await policyStatus(name);
    return st && !st.workspace && st.formerWorkspaces?.some((w) => w.id === owned?.id) ? st : undefined;
  }, 10_000, 'policy back on the default workspace');
  expect(moved.pool).toBeUndefined();
  for (const [i, m] of team.entries()) {
    const s = await eventually(async () => {
      const st = (await env.member(n, m)).status;
      return st?.rotation?.lastTrigger === 'WorkspaceMoved' && st.key?.hash !== old[i] ? st : undefined;
    }, 15_000, `${m} moved`);
    expect(workspace(emuKey(s.key?.hash)?.workspaceId)?.slug, 'the new key is outside the pool workspace').not.toBe(owned?.ref);
    expect(emuKey(old[i])?.disabled, 'the previous key still works inside its overlap').toBe(false);
  }
  // past the overlap the old keys are disabled, past the retention deleted; a sync lists the emptied workspace,
  // which goes
  for (let i = 0; i < 3; i++) {
    env.clock.advance(HOUR + 60_000);
    await env.op.sync();
    await env.settled();
  }
  await eventually(async () => ((await policyStatus(name))?.formerWorkspaces === undefined ? true : undefined), 15_000, 'former workspace let go');
  expect(workspace(owned?.id), 'the owned workspace is deleted').toBeUndefined();
  for (const h of old) expect(emuKey(h), 'old keys are gone').toBeUndefined();
});

it('two policies pooling one named workspace: the older sets its budgets, the other says so and changes nothing', async () => {
  const shared = env.emu.store.createWorkspace('shared team', `shared-${n}`.slice(0, 50));
  // (an operator scoped to some namespaces serves the policies its members use)
  await env.apply([aPolicy(`first-${n}`, { workspace: shared.slug, pool: { monthly: 50, daily: 5 } }), aMember(n, 'f', `first-${n}`)]);
  await eventually(async () => ((await policyStatus(`first-${n}`))?.conditions?.some((c) => c.type === 'Pool' && c.status === 'True') ? true : undefined), 10_000, 'first pool applied');
  await env.apply([aPolicy(`second-${n}`, { workspace: shared.slug, pool: { monthly: 80 } }), aMember(n, 's', `second-${n}`)]);
  const second = await eventually(async () => {
    const st = await policyStatus(`second-${n}`);
    return st?.conditions?.find((c) => c.type === 'Pool' && c.reason === 'PoolConflict');
  }, 10_000, 'second policy in conflict');
  expect(second.message).toContain(`first-${n}`);
  await env.op.sync();
  await env.settled();
  const budgets = env.emu.store.state.workspaces.find((w) => w.id === shared.id)?.budgets;
  expect(budgets).toMatchObject({ monthly: { limitUsd: 50 }, daily: { limitUsd: 5 } });
  // the second policy's members share the pool: their keys are in the shared workspace too
  expect(emuKey((await env.ready(n, 's')).status?.key?.hash)?.workspaceId).toBe(shared.id);
  expect((await policyStatus(`second-${n}`))?.pool, 'a pool another policy sets is not shown as its own').toBeUndefined();
  // the second policy drops its pool: the first one's budgets stay
  await env.apply(aPolicy(`second-${n}`, { workspace: shared.slug }));
  await eventually(async () => ((await policyStatus(`second-${n}`))?.conditions?.some((c) => c.type === 'Pool') ? undefined : true), 10_000, 'second policy unpooled');
  await env.op.sync();
  await env.settled();
  expect(env.emu.store.state.workspaces.find((w) => w.id === shared.id)?.budgets).toMatchObject({ monthly: { limitUsd: 50 }, daily: { limitUsd: 5 } });
});

it('a pooled policy deleted: its owned workspace goes once it holds no key, and stays while a retained key is in it', async () => {
  for (const [name, deletionPolicy] of [[`gone-${n}`, 'Delete'], [`kept-${n}`, 'Retain']] as const) {
    await env.apply([aPolicy(name, { deletionPolicy, pool: { daily: 3 } }), aMember(n, name.split('-')[0] ?? '', name)]);
    const m = await env.ready(n, name.split('-')[0] ?? '');
    const ws = (await eventually(async () => (await policyStatus(name))?.workspace, 10_000, 'workspace')).id;
    expect(emuKey(m.status?.key?.hash)?.workspaceId).toBe(ws);
    await env.kubectl(['delete', 'tm', m.metadata.name, '-n', n, '--wait=true']);
    await env.kubectl(['delete', 'kp', name, '--wait=true']);
    const kept = env.logs.some((l) => l.includes(`"object":"KeyPolicy/${name}"`) && l.includes('"reason":"WorkspaceKept"'));
    expect({ exists: workspace(ws) !== undefined, kept }, 'deleted with the policy unless a retained key is in it').toEqual(deletionPolicy === 'Delete' ? { exists: false, kept: false } : { exists: true, kept: true });
  }
});

it('an owned workspace deleted outside is made again at the next listing, and the member gets a key in it', async () => {
  const name = `redo-${n}`;
  await env.apply([aPolicy(name, { pool: { monthly: 30 } }), aMember(n, 'redo', name)]);
  const first = await env.ready(n, 'redo');
  const ws = (await eventually(async () => (await policyStatus(name))?.workspace, 10_000, 'workspace')).id;
  // suspended, its key is disabled: OpenRouter then lets a person delete the workspace (and the keys in it)
  await env.apply(aMember(n, 'redo', { policy: name, suspended: true }));
  await eventually(() => (emuKey(first.status?.key?.hash)?.disabled ? true : undefined), 10_000, 'key disabled');
  const doomed = workspace(ws);
  if (!doomed) throw new Error("no workspace");
  env.emu.store.deleteWorkspace(doomed);
  await env.apply(aMember(n, 'redo', { policy: name, suspended: false }));
  await env.op.sync();
  await env.settled();
  await env.op.sync();
  await env.settled();
  const again = await eventually(async () => {
    const w = (await policyStatus(name))?.workspace;
    return w && w.id !== ws ? w : undefined;
  }, 15_000, 'workspace made again');
  expect(workspace(again.id)?.budgets).toMatchObject({ monthly: { limitUsd: 30 } });
  expect((await policyStatus(name))?.formerWorkspaces, 'a deleted workspace is not waited for').toBeUndefined();
  const m = await env.ready(n, 'redo');
  expect(emuKey(m.status?.key?.hash)?.workspaceId).toBe(again.id);
});
