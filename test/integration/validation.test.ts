/** Bad input is refused at `kubectl apply`, by the CRD schema and its CEL rules, with a message naming the field. */
import { CustomObjectsApi } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { eventually, freshNamespace, kubeConfig } from './kube.ts';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { inject } from 'vitest';

const run = promisify(execFile);
let ns = '';

async function apply(yaml: string): Promise<{ ok: boolean; out: string }> {
  const p = run(join(inject('controlPlaneBinDir'), 'kubectl'), ['--kubeconfig', inject('kubeconfigPath'), 'apply', '-f', '-']);
  p.child.stdin?.end(yaml);
  try {
    const r = await p;
    return { ok: true, out: r.stdout };
  } catch (e) {
    return { ok: false, out: String((e as { stderr?: string }).stderr ?? e) };
  }
}

const policy = (name: string, spec: string) => `apiVersion: teamkeys.dev/v1alpha1\nkind: KeyPolicy\nmetadata: {name: ${name}}\nspec:\n${spec}`;
const member = (name: string, spec: string) => `apiVersion: teamkeys.dev/v1alpha1\nkind: TeamMember\nmetadata: {name: ${name}, namespace: ${ns}}\nspec:\n${spec}`;

beforeAll(async () => {
  ns = await freshNamespace(kubeConfig(), 'validation');
});

describe('kubectl apply refuses', () => {
  it.each([
    ['a member without a policy', member('v1', '  displayName: x'), /spec.policy: Required value/],
    ['a negative member limit', member('v2', '  policy: p\n  limitUSD: -5'), /spec.limitUSD.*greater than or equal to 0/],
    ['an absurd member limit', member('v3', '  policy: p\n  limitUSD: 5000000'), /spec.limitUSD.*less than or equal to 1e\+06|spec.limitUSD.*1000000/],
    ['a limit that is not a number', member('v4', '  policy: p\n  limitUSD: lots'), /spec.limitUSD/],
    ['a bad secret name', member('v5', '  policy: p\n  secretName: Not_A_Name'), /spec.secretName/],
    ['an expiresAt that is not a timestamp', member('v6', '  policy: p\n  expiresAt: next friday'), /spec.expiresAt/],
    ['an expiresAt with a space for the T', member('v6b', '  policy: p\n  expiresAt: "2027-06-30 18:00:00Z"'), /spec.expiresAt/],
    ['an expiresAt with an odd fraction separator', member('v6c', '  policy: p\n  expiresAt: "2027-06-30T18:00:00x5Z"'), /spec.expiresAt/],
    ['an expiresAt with an offset of 24 hours', member('v6d', '  policy: p\n  expiresAt: "2027-06-30T18:00:00+24:00"'), /spec.expiresAt/],
    ['a malformed email', member('v7', '  policy: p\n  email: not-an-email'), /spec.email/],
    ['suspended as a string', member('v8', '  policy: p\n  suspended: "maybe"'), /spec.suspended/],
    ['an empty policy name', member('v9', '  policy: ""'), /spec.policy/],
    ['an unknown reset period', policy('bad-reset', '  budget: {limitUSD: 5, reset: hourly}'), /spec.budget.reset.*Unsupported value: "hourly"/],
    ['a negative policy limit', policy('bad-limit', '  budget: {limitUSD: -1}'), /spec.budget.limitUSD/],
    ['memberMaxUSD below limitUSD', policy('bad-max', '  budget: {limitUSD: 50, memberMaxUSD: 10}'), /spec.budget.memberMaxUSD.*memberMaxUSD must be at least limitUSD/],
    ['a keyTTL that is not a duration', policy('bad-ttl', '  keyTTL: 90 days'), /spec.keyTTL/],
    ['a keyTTL under an hour', policy('short-ttl', '  keyTTL: 5m'), /spec.keyTTL.*at least 1h/],
    ['an unknown deletion policy', policy('bad-del', '  deletionPolicy: Shred'), /spec.deletionPolicy.*Unsupported value: "Shred"/],
    ['a sync interval under 30s', policy('bad-sync', '  usage: {syncInterval: 5s}'), /spec.usage.syncInterval.*at least 30s/],
    ['a warning threshold over 100%', policy('bad-warn', '  usage: {warnAtPercent: 150}'), /spec.usage.warnAtPercent/],
    ['a bad namespace selector operator', policy('bad-sel', '  namespaceSelector:\n    matchExpressions: [{key: tier, operator: Maybe}]'), /spec.namespaceSelector.matchExpressions\[0\].operator/],
    ['duplicate Secret data keys', policy('dup-keys', '  secretTemplate:\n    keys: {apiKey: KEY, baseURL: KEY}'), /spec.secretTemplate.keys.*must be distinct/],
    ['a bad Secret data key name', policy('bad-key', '  secretTemplate:\n    keys: {apiKey: "my key"}'), /spec.secretTemplate.keys.apiKey/],
    ['a member name longer than a label value (63)', member('m'.repeat(64), '  policy: p'), /metadata.name.*at most 63 characters/],
    ['a Secret label key that is not a label key', policy('bad-label-key', '  secretTemplate:\n    labels: {"team name": x}'), /spec.secretTemplate.labels.*label keys/],
    ['a Secret label value longer than 63', policy('bad-label-value', `  secretTemplate:\n    labels: {team: ${'v'.repeat(64)}}`), /spec.secretTemplate.labels/],
    ['a Secret label value with a space', policy('bad-label-space', '  secretTemplate:\n    labels: {team: "a b"}'), /spec.secretTemplate.labels/],
    ['a rotation period under an hour', policy('rot-short', '  rotation: {every: 30m}'), /spec.rotation.every.*between 1h and 8760h/],
    ['a rotation period over a year', policy('rot-long', '  rotation: {every: 9000h}'), /spec.rotation.every.*between 1h and 8760h/],
    ['a rotation period not longer than its overlap', policy('rot-overlap', '  rotation: {every: 2h, overlap: 2h}'), /spec.rotation.every.*longer than rotation.overlap/],
    ['an overlap over 720h', policy('rot-big-overlap', '  rotation: {overlap: 800h}'), /spec.rotation.overlap.*at most 720h/],
    ['a negative overlap', policy('rot-neg', '  rotation: {overlap: -5m}'), /spec.rotation.overlap/],
    ['an overlap allowance over 50%', policy('rot-allow', '  rotation: {overlapAllowancePercent: 80}'), /spec.rotation.overlapAllowancePercent/],
    ['a retention over 720h', policy('rot-retain', '  rotation: {retainDisabled: 1000h}'), /spec.rotation.retainDisabled.*at most 720h/],
    ['an empty model allowlist', policy('m-empty', '  models: {allow: []}'), /spec.models.allow.*should have at least 1 items/],
    ['a models block with no list', policy('m-none', '  models: {}'), /spec.models.*needs allow, deny or both/],
    ['a model id without its author', policy('m-slug', '  models: {allow: [gpt-4o]}'), /spec.models.allow\[0\].*should match/],
    ['a model id with spaces', policy('m-space', '  models: {allow: ["openai/gpt 4o"]}'), /spec.models.allow\[0\].*should match/],
    ['a model both allowed and denied', policy('m-both', '  models: {allow: [openai/gpt-4o-mini, openai/gpt-4.1], deny: [openai/gpt-4.1]}'), /spec.models.deny.*both allowed and denied/],
    ['a model listed twice', policy('m-twice', '  models: {allow: [openai/gpt-4o-mini, openai/gpt-4o-mini]}'), /spec.models.allow\[1\].*Duplicate value/],
    ['more than 100 models', policy('m-many', `  models: {allow: [${Array.from({ length: 101 }, (_, i) => `a/m${i}`).join(', ')}]}`), /spec.models.allow.*must have at most 100 items/],
    ['a provider slug with a slash', policy('p-slug', '  providers: {deny: [openai/azure]}'), /spec.providers.deny\[0\].*should match/],
    ['a provider both allowed and denied', policy('p-both', '  providers: {allow: [openai], deny: [openai]}'), /spec.providers.deny.*both allowed and denied/],
    ['zero data retention that is not a boolean', policy('zdr', '  zeroDataRetention: "yes"'), /spec.zeroDataRetention.*boolean/],
    ['an inactivity period under an hour', policy('idle-short', '  inactivity: {disableAfter: 30m}'), /spec.inactivity.disableAfter.*between 1h and 8760h/],
    ['inactivity without disableAfter', policy('idle-none', '  inactivity: {deleteAfter: 1000h}'), /spec.inactivity.disableAfter: Required value/],
    ['a deletion not after the disabling', policy('idle-order', '  inactivity: {disableAfter: 720h, deleteAfter: 720h}'), /spec.inactivity.deleteAfter.*longer than disableAfter/],
    ['a Secret annotation key with two slashes', policy('bad-annotation', '  secretTemplate:\n    annotations: {"a/b/c": x}'), /spec.secretTemplate.annotations.*annotation keys/],
  ])('%s', async (_what, yaml, message) => {
    const r = await apply(yaml);
    expect(r.ok, r.out).toBe(false);
    expect(r.out).toMatch(message);
  });

  it('a change to an immutable field', async () => {
    expect((await apply(member('imm', '  policy: p\n  secretName: first'))).ok).toBe(true);
    const r = await apply(member('imm', '  policy: p\n  secretName: second'));
    expect(r.ok).toBe(false);
    expect(r.out).toMatch(/secretName is immutable/);
    expect((await apply(policy(`imm-${ns}`, '  workspace: default'))).ok).toBe(true);
    const w = await apply(policy(`imm-${ns}`, '  workspace: other'));
    expect(w.ok).toBe(false);
    expect(w.out).toMatch(/workspace is immutable/);
  });

  it('but accepts a valid member and policy, with defaults filled in', async () => {
    expect((await apply(policy(`ok-${ns}`, '  budget: {limitUSD: 5}'))).ok).toBe(true);
    expect((await apply(member('fine', `  policy: ok-${ns}`))).ok).toBe(true);
    const kc = kubeConfig();
    const p = await eventually(async () => (await kc.makeApiClient(CustomObjectsApi).getClusterCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', plural: 'keypolicies', name: `ok-${ns}` })) as { spec: unknown }, 5_000, 'policy');
    expect(p.spec).toMatchObject({ budget: { limitUSD: 5, reset: 'monthly', includeByok: false }, deletionPolicy: 'Delete' });
  });
});
