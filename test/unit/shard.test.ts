/**
 * Operators sharding one cluster (--namespace-selector), maybe on one OpenRouter account: their ids, what each may
 * offboard and sweep, and a KeyPolicy both serve, reconciled in turns against one in-memory account until quiet.
 */
import { BookedGuardrails } from '../../src/controller/booked.ts';
import { describe, expect, it } from 'vitest';
import { parsePolicy, type Offboardee } from '../../src/api/objects.ts';
import { FINALIZER, POLICY_FINALIZER, POLICY_OPERATORS_MAX, type Condition, type KeyPolicy, type PolicyOperatorStatus, type TeamMember } from '../../src/api/schema.ts';
import { GuardrailBook } from '../../src/controller/guardrailbook.ts';
import { finalizes, legacyId, operatorId, recordedOperator, selectorText } from '../../src/controller/identity.ts';
import { keyName } from '../../src/controller/keyname.ts';
import { deleteStrayGuardrails, strayGuardrails, type GuardrailDeps } from '../../src/controller/policy/guardrail.ts';
import { ownGuardrail, speaksFor, summary, withEntry } from '../../src/controller/policy/operators.ts';
import { reconcilePolicy } from '../../src/controller/policy/reconcile.ts';
import { guardrailPrefix } from '../../src/controller/policy/rules.ts';
import { sweepable } from '../../src/controller/sweep.ts';
import { guardrailOf } from '../../src/controller/triggers.ts';
import type { Guardrail } from '../../src/domain/guardrail.ts';
import { fakeGuardrails } from './fake-guardrails.ts';
import type { Cluster } from '../../src/kube/cluster.ts';
import type { Recorder } from '../../src/controller/events.ts';
import type { Json } from '../../src/util/json.ts';
import { aKey } from '../kit/keys.ts';
import { statusErrors } from '../crdschema.ts';

const UID = '2f1c0d6e-0000-4000-8000-000000000000';
const base = { namespace: 'teamkeys-system', leaseName: 'teamkeys-operator' };

describe('operatorId', () => {
  it.each([
    ['--cluster-id wins', { ...base, clusterId: 'prod' }, 'prod'],
    ['--cluster-id wins, also sharded', { ...base, clusterId: 'prod', namespaceSelector: { team: 'a' } }, 'prod'],
    ['one operator per cluster: the kube-system UID', base, UID],
    ['sharded: the UID and its own namespace', { ...base, namespace: 'teamkeys-a', namespaceSelector: { team: 'a' } }, `${UID}.teamkeys-a`],
    ['sharded, another lease in the namespace', { ...base, namespace: 'ops', leaseName: 'tk-b', namespaceSelector: { team: 'b' } }, `${UID}.ops.tk-b`],
  ])('%s', (_what, cfg, id) => {
    expect(operatorId(cfg, UID).id).toBe(id);
  });
  it('shortens a long namespace and lease name to a stable digest: names that carry the id stay bounded', () => {
    const cfg = { ...base, namespace: 'n'.repeat(63), leaseName: 'l'.repeat(200), namespaceSelector: { team: 'a' } };
    const id = operatorId(cfg, UID).id;
    expect(id).toMatch(new RegExp(`^${UID}\\.[0-9a-f]{16}$`));
    expect(operatorId(cfg, UID).id).toBe(id);
    expect(operatorId({ ...cfg, leaseName: 'l'.repeat(199) }, UID).id).not.toBe(id);
  });
  it('reads back the cluster id a derived id extends, and none of any other id', () => {
    expect(legacyId(`${UID}.teamkeys-a`)).toBe(UID);
    expect(legacyId(`${UID}.ops.tk-b`)).toBe(UID);
    expect(legacyId(UID)).toBeUndefined();
    expect(legacyId('prod')).toBeUndefined();
  });
  it('shows the selector as given', () => {
    expect(selectorText({ team: 'a', 'teamkeys.dev/enabled': 'true' })).toBe('team=a,teamkeys.dev/enabled=true');
    expect(selectorText(undefined)).toBeUndefined();
  });
});

describe('finalizes: a deleted member outside the namespaces this operator manages', () => {
  const A = `${UID}.teamkeys-a`;
  const B = `${UID}.teamkeys-b`;
  const name = (id: string, seq = 1) => keyName({ cluster: id, namespace: 'left', member: 'm', uid: 'u', seq });
  const view = (o: { key?: string; previous?: string[]; pending?: string; deleting?: boolean; finalizer?: boolean }): Offboardee => ({
    kind: 'TeamMember',
    metadata: { name: 'm', namespace: 'left', uid: 'u', ...(o.deleting === false ? {} : { deletionTimestamp: '2026-01-01T00:00:00Z' }), finalizers: o.finalizer === false ? [] : [FINALIZER] },
    policy: 'pro', suspended: false, secretName: 'm-openrouter',
    key: o.key === undefined ? undefined : { hash: 'k1', name: o.key, disabled: false },
    pendingName: o.pending,
    impliedSeq: undefined,
    previous: (o.previous ?? []).map((n, i) => ({ hash: `p${i}`, name: n })),
  });
  const inAccount = (hashes: string[]) => (h: string) => hashes.includes(h);
  it.each([
    ['its key carries our id', view({ key: name(A) }), undefined, [], true],
    ['its key carries our id, released', view({ key: `released:${name(A)}` }), undefined, [], true],
    ['only a previous key carries our id', view({ key: name(B), previous: [name(A, 0)] }), undefined, [], true],
    ['only its create in flight carries our id', view({ pending: name(A) }), undefined, [], true],
    ["the other operator's key, though in our account", view({ key: name(B) }), undefined, ['k1'], false],
    ['a key named before ids were per operator, in our account', view({ key: name(UID) }), undefined, ['k1'], true],
    ['a key named before ids were per operator, not in our account', view({ key: name(UID) }), undefined, [], false],
    ['no key, no mark', view({}), undefined, [], false],
    ['recorded as ours', view({}), A, [], true],
    ['recorded as the other operator’s, whatever its key says', view({ key: name(B) }), B, ['k1'], false],
    ['recorded as the other operator’s, though its key carries our id', view({ key: name(A) }), B, ['k1'], false],
    ['recorded by us before we were sharded, its key in our account', view({ key: name(UID) }), UID, ['k1'], true],
    ['recorded by us before we were sharded, its key not in our account', view({ key: name(UID) }), UID, [], false],
    ['not deleted', view({ key: name(A), deleting: false }), undefined, [], false],
    ['no finalizer of ours', view({ key: name(A), finalizer: false }), undefined, [], false],
  ])('%s', (_what, v, recorded, hashes, want) => {
    expect(finalizes(v, recorded, A, inAccount(hashes))).toBe(want);
  });
  it('an explicit id: its own keys, and keys without a name that its account holds', () => {
    expect(finalizes(view({ key: name('prod') }), undefined, 'prod', inAccount([]))).toBe(true);
    expect(finalizes(view({ key: name('staging') }), undefined, 'prod', inAccount(['k1']))).toBe(false);
  });
  it('reads the recorded operator leniently', () => {
    expect(recordedOperator({ status: { operator: A, key: 1 } })).toBe(A);
    expect(recordedOperator({ status: { operator: 7 } })).toBeUndefined();
    expect(recordedOperator({})).toBeUndefined();
  });
});

describe('sweepable', () => {
  const key = (cluster: string, ns: string) => aKey(`${cluster}/${ns}`, { name: keyName({ cluster, namespace: ns, member: 'm', uid: 'u', seq: 1 }) });
  const A = `${UID}.teamkeys-a`;
  const keys = [key(A, 'mine'), key(A, 'left'), key(`${UID}.teamkeys-b`, 'theirs'), key(UID, 'mine'), key(UID, 'left')];
  const manages = (ns: string | undefined) => ns === 'mine';
  it('looks at our keys in every namespace, and at keys named with the bare cluster id only in ours', () => {
    const s = sweepable(keys, A, manages);
    expect(s.map((x) => [x.id, x.keys.map((k) => k.hash)])).toEqual([
      [A, keys.map((k) => k.hash)],
      [UID, [`${A}/mine`, `${UID}/mine`]],
    ]);
  });
  it('an id that extends none: one look', () => {
    expect(sweepable(keys, 'prod', manages).map((x) => x.id)).toEqual(['prod']);
  });
});

const cond = (status: Condition['status'], reason: string, message = reason): Condition => ({ type: 'GuardrailSynced', status, reason, message, lastTransitionTime: 't' });
const entry = (id: string | undefined, c?: Condition): PolicyOperatorStatus => ({
  members: 1,
  ...(id ? { guardrail: { id, name: `teamkeys/x/${id}`, applied: 'f', zeroDataRetention: false, assignedKeys: 1, keys: 1 } } : {}),
  ...(c ? { guardrailSynced: c } : {}),
});

describe('status.operators', () => {
  it(`holds at most ${POLICY_OPERATORS_MAX} operators: a full map keeps its entries, ours is updated in place`, () => {
    const full = Object.fromEntries(Array.from({ length: POLICY_OPERATORS_MAX }, (_, i) => [`op${i}`, entry(`g${i}`)]));
    expect(withEntry(full, 'late', entry('g')).full).toBe(true);
    expect(Object.keys(withEntry(full, 'late', entry('g')).operators)).toHaveLength(POLICY_OPERATORS_MAX);
    expect(withEntry(full, 'op3', entry('new')).operators['op3']?.guardrail?.id).toBe('new');
    expect(withEntry(undefined, 'a', entry('g')).operators).toEqual({ a: entry('g') });
  });
  it('sums every operator up for the policy: the guardrail itself only while one serves it', () => {
    expect(summary({ a: entry('g1', cond('True', 'Synced', 'guardrail g1 enforces…')) })).toEqual({ guardrail: entry('g1').guardrail, condition: { type: 'GuardrailSynced', status: 'True', reason: 'Synced', message: 'guardrail g1 enforces…' } });
    const two = summary({ b: entry('g2', cond('True', 'Synced', 'g2 ok')), a: entry('g1', cond('True', 'Synced', 'g1 ok')) });
    expect(two).toEqual({ guardrail: undefined, condition: { type: 'GuardrailSynced', status: 'True', reason: 'Synced', message: 'operator a: g1 ok; operator b: g2 ok' } });
    expect(summary({ a: entry('g1', cond('True', 'Synced')), b: entry(undefined, cond('False', 'GuardrailRejected', 'no such model')) }).condition).toMatchObject({ status: 'False', reason: 'GuardrailRejected', message: 'operator b: no such model' });
    expect(summary({ a: entry(undefined, cond('True', 'NotNeeded')), b: entry(undefined, cond('True', 'NotNeeded')) }).condition).toMatchObject({ status: 'True', reason: 'NotNeeded' });
    expect(summary({ a: entry('g1') }).condition).toBeUndefined();
    expect(summary(undefined)).toEqual({ guardrail: undefined, condition: undefined });
  });
  it("takes as its own guardrail its entry's, or a top-level one of its name, never another operator's", () => {
    const g = (name: string) => ({ id: 'g', name, applied: 'f', zeroDataRetention: false, assignedKeys: 0, keys: 0 });
    expect(ownGuardrail({ guardrail: g('teamkeys/a/pro') }, 'a', 'pro')?.id).toBe('g');
    expect(ownGuardrail({ guardrail: g('teamkeys/b/pro') }, 'a', 'pro')).toBeUndefined();
    expect(ownGuardrail({ guardrail: g('teamkeys/a/pro'), operators: { a: entry(undefined) } }, 'a', 'pro')).toBeUndefined();
  });
  it('wakes members for their own operator’s guardrail only', () => {
    const o = { status: { guardrail: { id: 'top' }, operators: { a: { guardrail: { id: 'ga', keys: 3 } }, b: { members: 1 } } } };
    expect(guardrailOf(o, 'a')).toBe('ga');
    expect(guardrailOf(o, 'b')).toBe('');
    expect(guardrailOf({ status: 'broken' }, 'a')).toBe('');
  });
  it('finds the guardrails whose policy is gone', () => {
    const g = (name: string): Guardrail => ({ id: name, name, workspaceId: undefined, zeroDataRetention: false });
    expect(strayGuardrails([g('teamkeys/a/pro'), g('teamkeys/a/old'), g(`teamkeys/a/${'p'.repeat(240)}`.slice(0, 200))], 'a', ['pro']).map((x) => x.name)).toEqual(['teamkeys/a/old', `teamkeys/a/${'p'.repeat(240)}`.slice(0, 200)]);
  });
});

/** RFC 7386, as the API server applies a status patch. */
function applyMergePatch(target: Json | undefined, patch: Json): Json {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const out: { [k: string]: Json } = typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = applyMergePatch(out[k], v);
  }
  return out;
}

/** One OpenRouter account (guardrails and their keys), and the Kubernetes side of one policy. */
function world() {
  const { port, guardrails, assigned, writes: openrouterWrites } = fakeGuardrails();
  let stored: { metadata: KeyPolicy['metadata']; spec: KeyPolicy['spec']; status?: Json } | undefined = {
    metadata: { name: 'pro', uid: 'u', generation: 1, resourceVersion: '1', finalizers: [POLICY_FINALIZER] },
    spec: { deletionPolicy: 'Delete', onDisabledOutside: 'Replace', models: { allow: ['openai/gpt-4o-mini'] } },
  };
  const kubeWrites: string[] = [];
  const cluster = {
    patchPolicyStatus: async (name: string, patch: Json) => {
      kubeWrites.push(`status ${JSON.stringify(patch)}`);
      if (stored) stored = { ...stored, status: applyMergePatch(stored.status, patch) };
      return { metadata: { name } };
    },
    setPolicyFinalizers: async (name: string, _rv: string, finalizers: string[]) => {
      kubeWrites.push(`finalizers ${finalizers.join(',')}`);
      // the last finalizer of a deleted object: it is gone
      if (stored) stored = stored.metadata.deletionTimestamp && finalizers.length === 0 ? undefined : { ...stored, metadata: { ...stored.metadata, finalizers } };
      return { metadata: { name } };
    },
  } as unknown as Cluster;
  const recorder = { normal: async () => undefined, warn: async () => undefined } as unknown as Recorder;
  const member = (name: string, ns: string, hash: string): TeamMember => ({
    apiVersion: 'teamkeys.dev/v1alpha1', kind: 'TeamMember', metadata: { name, namespace: ns, uid: name },
    spec: { policy: 'pro', suspended: false },
    status: { conditions: [{ type: 'Ready', status: 'True', reason: 'KeyReady', message: 'ok', lastTransitionTime: 't' }], key: { hash, name: `n-${hash}`, label: 'l', createdAt: 't', disabled: false, reset: 'monthly', includeByok: false } },
  });
  const members = [member('ann', 'team-a', 'ka'), member('bob', 'team-b', 'kb')];
  /** One operator: its id, the namespace it manages, its own book of our guardrails. */
  const operator = (id: string, ns: string) => {
    const book = new GuardrailBook();
    const d: GuardrailDeps = {
      guardrails: new BookedGuardrails(port, book), book, clusterId: id, workspaceId: async () => undefined,
      refresh: () => book.refresh(port, [undefined], (name) => name.startsWith(guardrailPrefix(id))),
      recorder, now: () => '2026-11-26T00:00:00Z',
    };
    return {
      id, d,
      /** the policy reconcile as the operator runs it, from what its cache holds (a round trip through JSON) */
      reconcile: async () => {
        if (!stored) return deleteStrayGuardrails([], d);
        const p = parsePolicy(JSON.parse(JSON.stringify({ apiVersion: 'teamkeys.dev/v1alpha1', kind: 'KeyPolicy', ...stored })));
        if (!p) throw new Error('unreadable');
        await reconcilePolicy(p, members, members.filter((m) => m.metadata.namespace === ns), [], {
          cluster, recorder, now: '2026-11-26T00:00:00Z', operator: id, selector: `team=${ns}`, guardrail: d, pool: undefined, keyExists: () => true,
        });
        return [];
      },
    };
  };
  return { guardrails, assigned, openrouterWrites, kubeWrites, operator, get stored() { return stored; }, set stored(s) { stored = s; } };
}

describe('speaksFor: which policies an operator serves (reconciles, and lists the workspaces of)', () => {
  const ops = (ids: string[]) => ({ operators: Object.fromEntries(ids.map((id) => [id, { members: 0 }])) });
  it.each([
    ['unscoped: every policy', 'p', undefined, false, [], true],
    ['scoped: one its members use', 'p', undefined, true, ['p'], true],
    ['scoped: one nobody of its uses, without its entry', 'p', ops(['other']), true, ['q'], false],
    ['scoped: one whose status keeps its entry', 'p', ops(['me']), true, [], true],
    ['scoped: one whose entries are full without its own', 'p', ops(Array.from({ length: POLICY_OPERATORS_MAX }, (_, i) => `o${i}`)), true, [], true],
  ] as const)('%s', (_, policy, status, scoped, used, want) => {
    expect(speaksFor(policy, status, 'me', scoped, new Set(used))).toBe(want);
  });
});

describe('a KeyPolicy served by two operators on one account', () => {
  const A = `${UID}.teamkeys-a`;
  const B = `${UID}.teamkeys-b`;
  it('each keeps its own guardrail and entry; after a round each, an idle round writes nothing anywhere', async () => {
    const w = world();
    const a = w.operator(A, 'team-a');
    const b = w.operator(B, 'team-b');
    for (let round = 0; round < 3; round++) {
      await a.reconcile();
      await b.reconcile();
    }
    const kube = w.kubeWrites.length;
    const openrouter = w.openrouterWrites.length;
    for (let round = 0; round < 3; round++) {
      await a.reconcile();
      await b.reconcile();
    }
    expect(w.kubeWrites.slice(kube)).toEqual([]);
    expect(w.openrouterWrites.slice(openrouter)).toEqual([]);
    // one guardrail each, each holding its own operator's member key
    expect([...w.guardrails.values()].map((g) => g.name).toSorted()).toEqual([`teamkeys/${A}/pro`, `teamkeys/${B}/pro`]);
    const idOf = (id: string) => [...w.guardrails.values()].find((g) => g.name === `teamkeys/${id}/pro`)?.id;
    expect(Object.fromEntries(w.assigned)).toEqual({ ka: idOf(A), kb: idOf(B) });
    const status = w.stored?.status as KeyPolicy['status'];
    expect(status).toMatchObject({
      members: 2, readyMembers: 2, models: 'openai/gpt-4o-mini',
      operators: {
        [A]: { namespaceSelector: 'team=team-a', members: 1, guardrail: { id: idOf(A), assignedKeys: 1, keys: 1 }, guardrailSynced: { status: 'True', reason: 'Synced' } },
        [B]: { namespaceSelector: 'team=team-b', members: 1, guardrail: { id: idOf(B), assignedKeys: 1, keys: 1 }, guardrailSynced: { status: 'True', reason: 'Synced' } },
      },
    });
    expect(status?.guardrail).toBeUndefined();
    expect(statusErrors('KeyPolicy', status)).toEqual([]);
    expect(status?.conditions?.find((c) => c.type === 'GuardrailSynced')).toMatchObject({ status: 'True', reason: 'Synced' });
    // the status patches of one operator touch its own entry, never the other's
    for (const p of w.kubeWrites.filter((x) => x.startsWith('status '))) {
      const ops = (JSON.parse(p.slice('status '.length)) as { operators?: Record<string, unknown> }).operators ?? {};
      expect(Object.keys(ops).length).toBeLessThanOrEqual(1);
    }
  });

  it('deleted: the operator that lets it go deletes its guardrail, the other deletes its own once it sees it gone', async () => {
    const w = world();
    const a = w.operator(A, 'team-a');
    const b = w.operator(B, 'team-b');
    await a.reconcile();
    await b.reconcile();
    expect(w.guardrails.size).toBe(2);
    const s = w.stored;
    if (s) w.stored = { ...s, metadata: { ...s.metadata, deletionTimestamp: '2026-11-26T00:00:00Z' } };
    await a.reconcile(); // no member uses it (users = []): A deletes its guardrail and removes the finalizer
    expect(w.stored).toBeUndefined();
    expect([...w.guardrails.values()].map((g) => g.name)).toEqual([`teamkeys/${B}/pro`]);
    expect(await b.reconcile()).toEqual([`teamkeys/${B}/pro`]);
    expect(w.guardrails.size).toBe(0);
  });

  it(`${POLICY_OPERATORS_MAX + 2} operators: the status keeps ${POLICY_OPERATORS_MAX} entries and stays valid against the CRD`, async () => {
    const w = world();
    const ops = Array.from({ length: POLICY_OPERATORS_MAX + 2 }, (_, i) => w.operator(`${UID}.ops-${String(i).padStart(2, '0')}`, i % 2 === 0 ? 'team-a' : 'team-b'));
    for (const o of ops) await o.reconcile();
    const status = w.stored?.status as KeyPolicy['status'];
    expect(Object.keys(status?.operators ?? {})).toHaveLength(POLICY_OPERATORS_MAX);
    expect(statusErrors('KeyPolicy', status)).toEqual([]);
    // the ones left out still enforce the policy with their own guardrail
    expect(w.guardrails.size).toBe(POLICY_OPERATORS_MAX + 2);
  });

  it('a spec that no longer parses keeps the other operator’s entry', async () => {
    const w = world();
    const a = w.operator(A, 'team-a');
    const b = w.operator(B, 'team-b');
    await a.reconcile();
    await b.reconcile();
    const s = w.stored;
    if (s) w.stored = { ...s, spec: { ...s.spec, budget: { limitUSD: -1 } } as KeyPolicy['spec'] };
    await a.reconcile();
    const ops = (w.stored?.status as KeyPolicy['status'])?.operators ?? {};
    expect(Object.keys(ops).toSorted()).toEqual([A, B].toSorted());
    expect((w.stored?.status as KeyPolicy['status'])?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'InvalidSpec' });
  });
});
