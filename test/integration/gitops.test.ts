/**
 * A GitOps tool applying tiers, members and opted-in workloads next to the operator (docs/gitops.md): with
 * server-side apply under the tool's own field manager, as Argo CD (ServerSideApply=true) and Flux do, the
 * operator owns no field the tool applies, so the tool's next apply meets no conflict and undoes nothing the
 * operator wrote; a changed spec takes effect; a rotation asked in Git happens once; the key generations the
 * operator records on a workload survive the tool's applies, server-side and client-side (Argo CD's default).
 * Re-applies here go without --force-conflicts: Argo CD and Flux force, which would hide a conflict.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { V1Deployment } from '@kubernetes/client-node';
import type { TeamMember } from '../../src/api/schema.ts';
import { eventually } from './kube.ts';
import { startEnv, type Env } from './env.ts';
import { Workload } from './rollout.ts';
import { aMember, aPolicy, toYaml, type Manifest, type MemberManifest } from '../kit/objects.ts';

/** Argo CD's field manager for server-side apply; Flux's is kustomize-controller. */
const GITOPS = 'argocd-controller';
/**
 * The field manager of every operator write: the API server takes it from the User-Agent the operator sends
 * (kube/pool.ts). docs/gitops.md names it for ignoreDifferences.
 */
const OPERATOR = 'teamkeys';
const GENERATIONS = 'teamkeys.dev/key-generations';

let env: Env;
let ns = '';
let policy = '';
beforeAll(async () => {
  env = await startEnv();
  ns = await env.newNamespace('gitops');
  policy = `gitops-${ns}`;
});
afterAll(() => env.stop());

/** `kubectl apply --server-side` as the GitOps tool, without --force-conflicts: a conflict fails the call. */
const ssa = (what: string) => env.kubectl(['apply', '--server-side', `--field-manager=${GITOPS}`, '-f', '-'], what);
/** `kubectl apply` as Argo CD syncs by default: a three-way merge against the last-applied-configuration. */
const csa = (what: string) => env.kubectl(['apply', '-f', '-'], what);

interface Entry { manager?: string; operation?: string; subresource?: string; fieldsV1?: object }
interface Managed { metadata?: { managedFields?: Entry[]; resourceVersion?: string } }

/** The leaf fields of a managedFields tree as paths: `spec.policy`, `metadata.finalizers[v:"…"]`. */
function paths(tree: object, prefix = ''): string[] {
  return Object.entries(tree).flatMap(([k, v]: [string, object]) => {
    if (k === '.') return [];
    const path = k.startsWith('f:') ? `${prefix}${prefix === '' ? '' : '.'}${k.slice(2)}` : `${prefix}[${k}]`;
    const below = paths(v, path);
    return below.length > 0 ? below : [path];
  });
}

/** What each field manager owns on an object, by `manager/operation/subresource`. */
function owners(o: Managed): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const e of o.metadata?.managedFields ?? []) out[`${e.manager}/${e.operation}/${e.subresource ?? ''}`] = paths(e.fieldsV1 ?? {}).toSorted();
  return out;
}

/** Fields of `a` that are, contain or lie within a field of `b`. */
function shared(a: readonly string[], b: readonly string[]): string[] {
  const within = (x: string, y: string) => x === y || x.startsWith(`${y}.`) || x.startsWith(`${y}[`);
  return a.filter((x) => b.some((y) => within(x, y) || within(y, x)));
}

const operatorFields = (o: Managed) => Object.entries(owners(o)).filter(([k]) => k.startsWith(`${OPERATOR}/`)).flatMap(([, v]) => v);
const gitopsFields = (o: Managed) => owners(o)[`${GITOPS}/Apply/`] ?? [];

const readPolicy = async () => (await env.custom.getClusterCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', plural: 'keypolicies', name: policy })) as Managed & { status?: { observedGeneration?: number } };
const emuKey = (hash: string | undefined) => env.emu.store.state.keys.find((k) => k.hash === hash);

/** The operator's writes since `before`, by what they were. */
function writesSince(before: ReadonlyMap<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [what, n] of env.op.cluster.writes) if (n > (before.get(what) ?? 0)) out[what] = n - (before.get(what) ?? 0);
  return out;
}

describe('tiers and members applied by a GitOps tool', () => {
  /** How Argo CD (annotation) and Flux (labels) mark what they applied: none of it may reach a member Secret. */
  const tracking = () => ({
    labels: { 'kustomize.toolkit.fluxcd.io/name': 'members', 'kustomize.toolkit.fluxcd.io/namespace': 'flux-system' },
    annotations: { 'argocd.argoproj.io/tracking-id': `members:teamkeys.dev/TeamMember:${ns}/ann` },
  });
  const manifests = (limits: { policy: number; ann: number }): Manifest[] => {
    const ann = aMember(ns, 'ann', { policy, limitUSD: limits.ann, displayName: 'Ann' });
    return [
      aPolicy(policy, { budget: { limitUSD: limits.policy, memberMaxUSD: 10 } }),
      { ...ann, metadata: { ...ann.metadata, ...tracking() } },
      aMember(ns, 'bob', policy),
    ];
  };

  beforeAll(async () => {
    await ssa(toYaml(manifests({ policy: 5, ann: 4 })));
    await env.ready(ns, 'ann');
    await env.ready(ns, 'bob');
    // the first key listing and usage read done, as in an operator that has been running
    await env.op.sync();
    await env.settled();
  });

  it('the operator owns only finalizers and status: none of the fields the tool applies', async () => {
    for (const name of ['ann', 'bob']) {
      const m = (await env.member(ns, name)) as TeamMember & Managed;
      const own = owners(m);
      expect(Object.keys(own).toSorted(), `${name}: who writes it`).toEqual([`${GITOPS}/Apply/`, `${OPERATOR}/Update/`, `${OPERATOR}/Update/status`]);
      expect(own[`${OPERATOR}/Update/`]).toEqual(['metadata.finalizers[v:"teamkeys.dev/revoke-key"]']);
      expect(own[`${OPERATOR}/Update/status`]?.every((f) => f.startsWith('status.'))).toBe(true);
      expect(shared(operatorFields(m), gitopsFields(m))).toEqual([]);
    }
    expect(gitopsFields((await env.member(ns, 'ann')) as Managed)).toEqual([
      'metadata.annotations.argocd.argoproj.io/tracking-id', 'metadata.labels.kustomize.toolkit.fluxcd.io/name',
      'metadata.labels.kustomize.toolkit.fluxcd.io/namespace', 'spec.displayName', 'spec.limitUSD', 'spec.policy',
    ]);
    const p = await readPolicy();
    const own = owners(p);
    expect(Object.keys(own).toSorted()).toEqual([`${GITOPS}/Apply/`, `${OPERATOR}/Update/`, `${OPERATOR}/Update/status`]);
    expect(own[`${OPERATOR}/Update/`]).toEqual(['metadata.finalizers[v:"teamkeys.dev/in-use"]']);
    expect(own[`${OPERATOR}/Update/status`]?.every((f) => f.startsWith('status.'))).toBe(true);
    expect(gitopsFields(p)).toEqual(['spec.budget.limitUSD', 'spec.budget.memberMaxUSD']);
  });

  it('the member Secret is the operator\u2019s alone: owned by its TeamMember, without the tool\u2019s marks', async () => {
    const ann = await env.member(ns, 'ann');
    const s = await env.core.readNamespacedSecret({ namespace: ns, name: 'ann-openrouter' });
    // an owner reference makes it the member's child to Argo CD, never an object of the app it could prune
    expect(s.metadata?.ownerReferences).toEqual([expect.objectContaining({ kind: 'TeamMember', name: 'ann', uid: ann.metadata.uid, controller: true })]);
    expect(s.metadata?.labels).toEqual({ 'app.kubernetes.io/managed-by': 'teamkeys', 'teamkeys.dev/member': 'ann' });
    expect(Object.keys(s.metadata?.annotations ?? {}).toSorted()).toEqual(['teamkeys.dev/issued-at', 'teamkeys.dev/key-hash', 'teamkeys.dev/key-hmac']);
    expect(Object.keys(owners(s as Managed))).toEqual([`${OPERATOR}/Update/`]);
  });

  it('re-applying the same manifests meets no conflict, changes nothing and costs the operator no write', async () => {
    const before = new Map(env.op.cluster.writes);
    const versions = async () => [(await readPolicy()).metadata?.resourceVersion, ...(await Promise.all(['ann', 'bob'].map(async (n) => (await env.member(ns, n)).metadata.resourceVersion)))];
    const v0 = await versions();
    await ssa(toYaml(manifests({ policy: 5, ann: 4 })));
    await env.settled();
    expect(await versions(), 'an apply that changes nothing stores nothing').toEqual(v0);
    expect(writesSince(before)).toEqual({});
  });

  it('a changed spec is applied with no conflict, and the operator follows it in status and at OpenRouter', async () => {
    const before = new Map(env.op.cluster.writes);
    await ssa(toYaml(manifests({ policy: 6, ann: 3 })));
    const follows = (name: string, limit: number) => eventually(async () => {
      const m = await env.member(ns, name);
      const done = m.status?.observedGeneration === m.metadata.generation && m.status?.key?.limitUSD === limit;
      return done ? m : undefined;
    }, 20_000, `${name} at limit ${limit}`);
    const ann = await follows('ann', 3);
    const bob = await follows('bob', 6);
    expect(emuKey(ann.status?.key?.hash)?.limit).toBe(3);
    expect(emuKey(bob.status?.key?.hash)?.limit).toBe(6);
    await eventually(async () => ((await readPolicy()).status?.observedGeneration === 2) || undefined, 20_000, 'the policy observed');
    await env.settled();
    // the same keys, re-limited: status and Events only, no finalizer, no Secret, no second key
    expect(ann.status?.keySeq).toBe(1);
    expect(Object.keys(writesSince(before)).filter((w) => !['member status', 'policy status', 'Event'].includes(w))).toEqual([]);
    const after = (await env.member(ns, 'ann')) as Managed;
    expect(shared(operatorFields(after), gitopsFields(after))).toEqual([]);
  });
});

/** A Deployment as it would sit in Git: opted in to restarts, a pod-template annotation of its own, the key in env. */
function deployment(name: string, secret: string, image: string): V1Deployment {
  const labels = { app: name };
  return {
    apiVersion: 'apps/v1', kind: 'Deployment',
    metadata: { name, namespace: ns, labels: { 'teamkeys.dev/restart-on-rotation': 'true' } },
    spec: {
      replicas: 2,
      selector: { matchLabels: labels },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        metadata: { labels, annotations: { 'example.com/scrape': 'true' } },
        spec: { containers: [{ name: 'app', image, envFrom: [{ secretRef: { name: secret } }] }] },
      },
    },
  };
}

/** A member of the workloads' policy, with a teamkeys.dev/rotate value in its manifest when given. */
function rotating(name: string, rotate?: string): MemberManifest {
  const m = aMember(ns, name, `wl-${ns}`);
  return rotate === undefined ? m : { ...m, metadata: { ...m.metadata, annotations: { 'teamkeys.dev/rotate': rotate } } };
}

describe('a workload opted in to restarts, applied by a GitOps tool', () => {
  beforeAll(() => ssa(toYaml(aPolicy(`wl-${ns}`, { budget: { limitUSD: 5 }, rotation: { overlap: '30m' } }))));

  it.each([
    { name: 'ssa', how: 'server-side (Argo CD with ServerSideApply=true, Flux)', apply: ssa, manager: `${GITOPS}/Apply/` },
    { name: 'csa', how: 'client-side (Argo CD by default)', apply: csa, manager: 'kubectl-client-side-apply/Update/' },
  ])('keeps the key generations the operator records across the tool\u2019s applies: $how', async ({ name, apply, manager }) => {
    const secret = `${name}-openrouter`;
    await ssa(toYaml(rotating(name)));
    await env.ready(ns, name);
    const manifest = (image: string) => JSON.stringify(deployment(name, secret, image));
    const w = new Workload(env.kc, ns, name);
    await apply(manifest('registry.invalid/app:1'));
    await w.rolledOut();
    const annotations = async () => {
      const d = await w.read();
      return { workload: d.metadata?.annotations?.[GENERATIONS], template: d.spec?.template.metadata?.annotations };
    };
    await eventually(async () => ((await annotations()).workload === `${secret}=1`) || undefined, 15_000, 'the first sight recorded');

    // a rotation asked in Git: the member's manifest carries a new teamkeys.dev/rotate value
    await ssa(toYaml(rotating(name, '2026-11-26')));
    await eventually(async () => ((await env.member(ns, name)).status?.rotation?.count === 1) || undefined, 20_000, 'rotated');
    await eventually(async () => ((await annotations()).template?.[GENERATIONS] === `${secret}=2`) || undefined, 15_000, 'restart asked');
    await w.rolledOut();
    expect(await w.revision()).toBe(2);

    // the tool applies the unchanged workload: no conflict, the operator's record stays, nothing rolls
    await apply(manifest('registry.invalid/app:1'));
    expect(await annotations()).toEqual({ workload: `${secret}=2`, template: { 'example.com/scrape': 'true', [GENERATIONS]: `${secret}=2` } });
    // a change in Git rolls the workload once, still with the operator's record in the template
    await apply(manifest('registry.invalid/app:2'));
    await w.rolledOut();
    expect(await annotations()).toEqual({ workload: `${secret}=2`, template: { 'example.com/scrape': 'true', [GENERATIONS]: `${secret}=2` } });
    // the same rotate value applied again is not a new request
    await ssa(toYaml(rotating(name, '2026-11-26')));
    await env.settled();
    expect(await w.revision()).toBe(3);
    expect((await env.member(ns, name)).status?.rotation).toMatchObject({ count: 1, lastRequest: '2026-11-26' });

    const d = (await w.read()) as Managed;
    // the operator's own annotations, on the workload and its pod template, and nothing else
    const own = owners(d)[`${OPERATOR}/Update/`] ?? [];
    expect(own).toEqual(expect.arrayContaining([`metadata.annotations.${GENERATIONS}`, `spec.template.metadata.annotations.${GENERATIONS}`]));
    expect(own.filter((f) => !/^(spec\.template\.)?metadata\.annotations\.teamkeys\.dev\//.test(f))).toEqual([]);
    const tool = owners(d)[manager] ?? [];
    expect(tool).toContain('spec.template.metadata.annotations.example.com/scrape');
    expect(shared(operatorFields(d), tool)).toEqual([]);
  });

  it('a rotate value restored by the tool after a kubectl request is a new value: it rotates again', async () => {
    // what docs/gitops.md warns of: ask for rotations in Git or with kubectl, not both on one member
    const name = 'mixed';
    const inGit = toYaml(rotating(name, 'git-1'));
    await ssa(inGit);
    await env.ready(ns, name);
    const rotated = (count: number) => eventually(async () => {
      const s = (await env.member(ns, name)).status;
      return s?.rotation?.count === count && !s.pendingKey ? s : undefined;
    }, 20_000, `rotation ${count}`);
    // a member created with the annotation set does not rotate for it (docs/rotation.md)
    await env.settled();
    expect((await env.member(ns, name)).status?.rotation?.count ?? 0).toBe(0);
    await env.kubectl(['annotate', 'tm', name, '-n', ns, '--overwrite', 'teamkeys.dev/rotate=by-hand']);
    await rotated(1);
    // the tool's next sync puts Git's value back, forcing as Argo CD (ServerSideApply=true) and Flux do
    await env.kubectl(['apply', '--server-side', '--force-conflicts', `--field-manager=${GITOPS}`, '-f', '-'], inGit);
    // the previous key must retire before another rotation: its overlap (30m) ends
    env.clock.advance(31 * 60_000);
    await env.op.sync();
    const s = await rotated(2);
    expect(s.rotation).toMatchObject({ lastRequest: 'git-1', lastTrigger: 'Requested' });
  });
});
