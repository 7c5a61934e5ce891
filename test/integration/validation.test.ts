/**
 * Bad input is refused at `kubectl apply` (test/refusals/apply.ts: by kubectl, the API server, the CRD schema or its
 * CEL rules) with a message naming the field; what sits at the edge of a limit is accepted.
 */
import { CustomObjectsApi } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { eventually, freshNamespace, kubeConfig } from './kube.ts';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { APPLY_CASES } from '../refusals/apply.ts';
import { inject } from 'vitest';
import { aMember, aPolicy, toYaml, type MemberSpec, type PolicySpec } from '../kit/objects.ts';

const run = promisify(execFile);
let ns = '';

async function apply(yaml: string, rawPath?: string): Promise<{ ok: boolean; out: string }> {
  const p = run(join(inject('controlPlaneBinDir'), 'kubectl'), ['--kubeconfig', inject('kubeconfigPath'), ...(rawPath ? ['create', '--raw', rawPath] : ['apply']), '-f', '-']);
  p.child.stdin?.end(yaml);
  try {
    const r = await p;
    return { ok: true, out: r.stdout };
  } catch (e) {
    return { ok: false, out: String((e as { stderr?: string }).stderr ?? e) };
  }
}

const policy = (name: string, spec: PolicySpec) => toYaml(aPolicy(name, spec));
const member = (name: string, spec: MemberSpec) => toYaml(aMember(ns, name, spec));

beforeAll(async () => {
  ns = await freshNamespace(kubeConfig(), 'validation');
});

describe('kubectl apply refuses', () => {
  it.each(APPLY_CASES.map((c) => [c.what, c] as const))('%s', async (_what, c) => {
    const r = await apply(c.doc(ns), c.raw?.(ns));
    expect(r.ok, r.out).toBe(false);
    expect(r.out).toMatch(c.message);
  });

  it('a change to an immutable field', async () => {
    expect((await apply(member('imm', { policy: 'p', secretName: 'first' }))).ok).toBe(true);
    const r = await apply(member('imm', { policy: 'p', secretName: 'second' }));
    expect(r.ok).toBe(false);
    expect(r.out).toMatch(/secretName is immutable/);
  });

  it('but accepts a changed workspace: the keys move by rotation', async () => {
    expect((await apply(policy(`move-${ns}`, { workspace: 'default' }))).ok).toBe(true);
    const w = await apply(policy(`move-${ns}`, { workspace: 'other', pool: { monthly: 20 } }));
    expect(w.ok, w.out).toBe(true);
  });

  it('but accepts what sits at the limits: a 63-character name, a 200-character displayName in any script', async () => {
    const name = `${'Zoë 山田 '.repeat(28)}Zoë!`; // 200 characters (none outside the BMP), 312 bytes
    expect(name.length).toBe(200);
    const ok = await apply(member('n'.repeat(63), { policy: 'p', displayName: name }));
    expect(ok.ok, ok.out).toBe(true);
  });

  it('but accepts renewBefore between the overlap and half of keyTTL, and keyTTL with an overlap under a third of it', async () => {
    const a = await apply(policy(`renew-${ns}`, { keyTTL: '24h', renewBefore: '12h', rotation: { overlap: '1h' } }));
    expect(a.ok, a.out).toBe(true);
    const b = await apply(policy(`renew-default-${ns}`, { keyTTL: '3h', rotation: { overlap: '59m' } }));
    expect(b.ok, b.out).toBe(true);
  });

  it('but accepts a valid member and policy, with defaults filled in', async () => {
    expect((await apply(policy(`ok-${ns}`, { budget: { limitUSD: 5 } }))).ok).toBe(true);
    expect((await apply(member('fine', { policy: `ok-${ns}` }))).ok).toBe(true);
    const kc = kubeConfig();
    const p = await eventually(async () => (await kc.makeApiClient(CustomObjectsApi).getClusterCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', plural: 'keypolicies', name: `ok-${ns}` })) as { spec: unknown }, 5_000, 'policy');
    expect(p.spec).toMatchObject({ budget: { limitUSD: 5, reset: 'monthly', includeByok: false }, deletionPolicy: 'Delete' });
  });
});
