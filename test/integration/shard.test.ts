/**
 * Operators sharding one cluster with --namespace-selector (the documented way), two of them on ONE OpenRouter
 * account (a, b) and one on another (c), none given --cluster-id: the ids they derive (controller/identity.ts) keep
 * apart what is each one's.
 *  - a KeyPolicy all serve: each keeps its own guardrail and its own status entry, all go quiet (no status
 *    flip-flop, no guardrail flip), and deleting the policy leaves no guardrail behind at OpenRouter;
 *  - a namespace taken out of an operator's selector: its members deleted afterwards are still offboarded by it
 *    (also after a restart), their leftover keys still swept;
 *  - another operator's deleted member is never offboarded, though its key is in the same account.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyPolicy } from '../../src/api/schema.ts';
import { parseKeyName } from '../../src/controller/keyname.ts';
import { eventually, isGone } from './kube.ts';
import { startEnv, type Env } from './env.ts';
import { aMember, aPolicy, type PolicySpec } from '../kit/objects.ts';

let a: Env;
let b: Env;
let c: Env;
beforeAll(async () => {
  a = await startEnv({ derivedId: true });
  b = await startEnv({ derivedId: true, account: a });
  c = await startEnv({ derivedId: true });
});
afterAll(async () => {
  await c?.stop();
  await b?.stop();
  await a?.stop();
});

const getPolicy = async (name: string) => (await a.custom.getClusterCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', plural: 'keypolicies', name })) as KeyPolicy;
const store = () => a.emu.store.state;
const keyOf = (hash: string | undefined) => store().keys.find((k) => k.hash === hash);
const assignedTo = (hash: string | undefined) => store().keyAssignments.find((x) => x.target === hash)?.guardrailId;
/** The operator id in a member's key name: what the operator that created the key calls itself. */
const idOf = (keyName: string | undefined) => parseKeyName(keyName ?? '')?.cluster ?? 'no key';
/** OpenRouter writes on both accounts. */
const writes = () => [a, c].map((e) => Object.entries(e.emu.counters()).filter(([route]) => /^(POST|PATCH|PUT|DELETE) /.test(route) && !route.includes('/analytics/')).reduce((n, [, byCode]) => n + Object.values(byCode).reduce((x, y) => x + y, 0), 0));
/** Kubernetes writes of every operator, by what they were. */
const kubeWrites = () => [a, b, c].map((e) => Object.fromEntries(e.op.cluster.writes));
const settledAll = async () => {
  for (const e of [a, b, c, a, b]) await e.settled(30_000, 1_000);
};
const threeDollars = (name: string, spec: PolicySpec = {}) => aPolicy(name, { budget: { limitUSD: 3 }, ...spec });

describe('a namespace taken out of the selector', () => {
  it('its members deleted afterwards are still offboarded by their operator, also after a restart, and its leftover keys swept', async () => {
    const policy = `shard-${randomBytes(3).toString('hex')}`;
    const ns = await a.newNamespace('shard-left');
    await a.apply([threeDollars(policy), ...['cy', 'di', 'ed'].map((m) => aMember(ns, m, policy))]);
    const [cy, di, ed] = [await a.ready(ns, 'cy'), await a.ready(ns, 'di'), await a.ready(ns, 'ed')];
    const idA = idOf(cy.status?.key?.name);
    await a.kubectl(['label', 'namespace', ns, 'teamkeys.dev/test-env-']);
    await eventually(async () => ((await a.core.readNamespace({ name: ns })).metadata?.labels?.['teamkeys.dev/test-env'] === undefined) || undefined, 10_000, 'label removed');
    const offboardedAlone = async () => {
      // deleted while the operator runs
      await a.kubectl(['delete', 'tm', 'cy', '-n', ns, '--wait=false']);
      await eventually(() => isGone(() => a.member(ns, 'cy')), 30_000, 'cy offboarded');
      expect(keyOf(cy.status?.key?.hash)).toBeUndefined();

      // deleted while the operator is down: the one that starts knows nothing in memory (its key book is empty, and
      // no member it manages makes it list the account)
      await a.stopOperator();
      await a.kubectl(['delete', 'tm', 'di', '-n', ns, '--wait=false']);
      await a.startOperator();
      await eventually(() => isGone(() => a.member(ns, 'di')), 30_000, 'di offboarded after a restart');
      expect(keyOf(di.status?.key?.hash)).toBeUndefined();
    };
    // this operator alone: the other one, on the same account, must not be the one that offboards them
    await b.stopOperator();
    try {
      await offboardedAlone();
    } finally {
      await b.startOperator();
    }

    // leftovers: a key of ours for no member there is swept; one named by the other operator is not ours to sweep
    const ghost = (id: string, who: string) => a.emu.store.createKey({ name: `teamkeys/${id}/${ns}/${who}/00000000-0000-4000-8000-000000000000/1` }).key.hash;
    const mine = ghost(idA, 'ghost');
    const theirs = ghost(b.op.operatorId, 'ghost2');
    a.clock.advance(11 * 60_000); // past --orphan-grace (10m), for both operators (they share the clock)
    await a.op.sync();
    expect(keyOf(mine)).toBeUndefined();
    expect(keyOf(theirs)).toBeDefined();
    // the member still there keeps its key
    expect(keyOf(ed.status?.key?.hash)?.disabled).toBe(false);
    // (and the other operator sweeps its own, wherever it was named)
    await b.op.sync();
    expect(keyOf(theirs)).toBeUndefined();
    await a.kubectl(['delete', 'tm', 'ed', '-n', ns, '--wait=false']);
    await eventually(() => isGone(() => a.member(ns, 'ed')), 30_000, 'ed offboarded');
    expect(keyOf(ed.status?.key?.hash)).toBeUndefined();
  });
});

describe('one KeyPolicy served by three operators, two of them on one account', () => {
  it('each keeps its own guardrail and status entry, all go quiet, and deleting the policy leaves no guardrail', async () => {
    const policy = `shard-${randomBytes(3).toString('hex')}`;
    const nsA = await a.newNamespace('shard-a');
    const nsB = await b.newNamespace('shard-b');
    const nsC = await c.newNamespace('shard-c');
    // (unequal shares: each operator counting only its own members made them overwrite each other in a loop)
    await a.apply([threeDollars(policy, { models: { allow: ['openai/gpt-4o-mini'] } }), aMember(nsA, 'ann', policy), aMember(nsA, 'amy', policy), aMember(nsB, 'bob', policy), aMember(nsC, 'cat', policy)]);
    const [ann, amy, bob, cat] = [await a.ready(nsA, 'ann'), await a.ready(nsA, 'amy'), await b.ready(nsB, 'bob'), await c.ready(nsC, 'cat')];
    const [idA, idB, idC] = [idOf(ann.status?.key?.name), idOf(bob.status?.key?.name), idOf(cat.status?.key?.name)];
    // three operators, three ids (none was given --cluster-id: they share the cluster's)
    expect(new Set([idA, idB, idC]).size).toBe(3);
    expect([idA, idB, idC]).toEqual([a.op.operatorId, b.op.operatorId, c.op.operatorId]);

    // each operator's guardrail holds its own members' keys, in its own account, and the policy shows all three
    const shown = await eventually(async () => {
      const p = await getPolicy(policy);
      const ops = p.status?.operators ?? {};
      return ops[idA]?.guardrail?.assignedKeys === 2 && ops[idB]?.guardrail?.assignedKeys === 1 && ops[idC]?.guardrail?.assignedKeys === 1 && p.status?.readyMembers === 4 ? p : undefined;
    }, 30_000, 'every operator in the policy status');
    const g = (id: string) => shown.status?.operators?.[id]?.guardrail;
    expect([g(idA)?.name, g(idB)?.name, g(idC)?.name]).toEqual([`teamkeys/${idA}/${policy}`, `teamkeys/${idB}/${policy}`, `teamkeys/${idC}/${policy}`]);
    expect([assignedTo(ann.status?.key?.hash), assignedTo(amy.status?.key?.hash), assignedTo(bob.status?.key?.hash)]).toEqual([g(idA)?.id, g(idA)?.id, g(idB)?.id]);
    expect(c.emu.store.state.keyAssignments.find((x) => x.target === cat.status?.key?.hash)?.guardrailId).toBe(g(idC)?.id);
    expect(shown.status).toMatchObject({ members: 4, readyMembers: 4, operators: { [idA]: { members: 2 }, [idB]: { members: 1 }, [idC]: { members: 1 } } });
    // the GUARDRAIL column sums them up; the guardrail itself is in each entry
    expect(shown.status?.conditions?.find((x) => x.type === 'GuardrailSynced')).toMatchObject({ status: 'True', reason: 'Synced' });
    expect(shown.status?.guardrail).toBeUndefined();
    expect(store().guardrails.map((x) => x.name).toSorted()).toEqual([`teamkeys/${idA}/${policy}`, `teamkeys/${idB}/${policy}`].toSorted());
    expect(c.emu.store.state.guardrails.map((x) => x.name)).toEqual([`teamkeys/${idC}/${policy}`]);

    // idle: each operator lists, sweeps and reconciles everything again, and nothing is written anywhere
    await settledAll();
    const rv = (await getPolicy(policy)).metadata.resourceVersion;
    const before = { openrouter: writes(), kube: kubeWrites() };
    for (let round = 0; round < 2; round++) {
      for (const e of [a, b, c]) await e.op.sync();
      await settledAll();
    }
    expect((await getPolicy(policy)).metadata.resourceVersion).toBe(rv);
    expect(writes()).toEqual(before.openrouter);
    expect(kubeWrites()).toEqual(before.kube);

    // deleting the policy (after its members) leaves no guardrail of any operator at OpenRouter
    for (const [ns, name] of [[nsA, 'ann'], [nsA, 'amy'], [nsB, 'bob'], [nsC, 'cat']] as const) await a.kubectl(['delete', 'tm', name, '-n', ns, '--wait=false']);
    await a.kubectl(['delete', 'kp', policy, '--wait=false']);
    await eventually(() => isGone(() => getPolicy(policy)), 30_000, 'policy deleted');
    await eventually(() => (store().guardrails.length === 0 && c.emu.store.state.guardrails.length === 0) || undefined, 30_000, 'no guardrail left at OpenRouter');
    expect([ann, amy, bob].map((m) => keyOf(m.status?.key?.hash))).toEqual([undefined, undefined, undefined]);
  });
});

describe("another operator's member", () => {
  it('is never offboarded by this operator, though its key is in the same account, and is once its own is back', async () => {
    const policy = `shard-${randomBytes(3).toString('hex')}`;
    const ns = await b.newNamespace('shard-theirs');
    await b.apply([threeDollars(policy), aMember(ns, 'flo', policy)]);
    const hash = (await b.ready(ns, 'flo')).status?.key?.hash ?? '';
    // this operator has listed the account: the key is in its book
    await a.op.sync();
    await b.stopOperator();
    const seen = a.op.stats.reconciles;
    const keys = store().keys.length;
    await a.kubectl(['delete', 'tm', 'flo', '-n', ns, '--wait=false']);
    await eventually(() => (a.op.stats.reconciles > seen && a.op.queue.idle()) || undefined, 15_000, 'this operator reconciled');
    await a.op.sync();
    await a.settled();
    expect((await b.member(ns, 'flo')).metadata.finalizers).toContain('teamkeys.dev/revoke-key');
    expect(keyOf(hash)?.disabled).toBe(false);
    expect(store().keys.length).toBe(keys);
    await b.startOperator();
    await eventually(() => isGone(() => b.member(ns, 'flo')), 30_000, 'offboarded by its own operator');
    expect(keyOf(hash)).toBeUndefined();
  });
});
