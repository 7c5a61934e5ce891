/**
 * A tenant is a namespace editor (the built-in `edit` ClusterRole bound in their namespace, extended by
 * deploy/aggregated-roles.yaml). test/refusals/tenant.ts lists what they are refused; each refusal is checked
 * against what the same user may do (manage their own TeamMembers, read their own Secrets), so a refusal cannot
 * pass for an unrelated reason. And the aggregated roles grant exactly what the README says.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { TENANT_CASES, type Namespaces } from '../refusals/tenant.ts';
import { eventually } from './kube.ts';
import { kubectl } from './serviceaccount.ts';
import { aMember, aPolicy, toYaml } from '../kit/objects.ts';

const ROOT = join(import.meta.dirname, '../..');
const TENANT = 'tenant-alice';
const VIEWER = 'viewer-bob';
const id = Date.now().toString(36);
const n: Namespaces = { own: `tenant-own-${id}`, other: `tenant-other-${id}`, system: `tenant-system-${id}`, policy: `tenant-${id}` };
const as = (user: string, args: string[], stdin?: string) => kubectl([`--as=${user}`, ...args], undefined, stdin);
const admin = async (args: string[], stdin?: string) => {
  const r = await kubectl(args, undefined, stdin);
  if (!r.ok) throw new Error(`kubectl ${args.join(' ')}: ${r.out}`);
  return r.out;
};
const member = (ns: string, name = 'm') => toYaml(aMember(ns, name, n.policy));

beforeAll(async () => {
  await admin(['apply', '-f', join(ROOT, 'deploy/aggregated-roles.yaml')]);
  for (const ns of [n.own, n.other, n.system]) await admin(['create', 'namespace', ns]);
  // the operator's namespace as deploy/ makes it (its own name here: other files use teamkeys-system)
  await admin(['create', 'secret', 'generic', 'teamkeys-management-key', '-n', n.system, '--from-literal=apiKey=not-a-key']);
  await admin(['apply', '-f', '-'], toYaml(aPolicy(n.policy, { budget: { limitUSD: 5 } })));
  for (const ns of [n.own, n.other]) {
    await admin(['apply', '-f', '-'], member(ns));
    await admin(['create', 'secret', 'generic', 'm-openrouter', '-n', ns, '--from-literal=OPENROUTER_API_KEY=placeholder']);
  }
  await admin(['create', 'rolebinding', 'tenant-edit', '--clusterrole=edit', `--user=${TENANT}`, '-n', n.own]);
  await admin(['create', 'rolebinding', 'viewer-view', '--clusterrole=view', `--user=${VIEWER}`, '-n', n.own]);
  // the aggregation controller folds teamkeys-edit into `edit` shortly after it is applied
  await eventually(async () => (await as(TENANT, ['auth', 'can-i', 'create', 'teammembers.teamkeys.dev', '-n', n.own])).ok || undefined, 30_000, 'teamkeys-edit aggregated into edit');
}, 60_000);

describe('a namespace editor', () => {
  it('may manage their own TeamMembers and read their own Secrets (what the refusals are measured against)', async () => {
    for (const args of [
      ['get', 'teammember', 'm', '-n', n.own],
      ['patch', 'teammember', 'm', '-n', n.own, '--type=merge', '-p', '{"spec":{"displayName":"Alice"}}'],
      ['get', 'secret', 'm-openrouter', '-n', n.own],
      ['delete', 'teammember', 'm', '-n', n.own, '--dry-run=server'],
    ]) {
      const r = await as(TENANT, args);
      expect(r.ok, `${args.join(' ')}: ${r.out}`).toBe(true);
    }
    const created = await as(TENANT, ['create', '-f', '-', '--dry-run=server'], member(n.own, 'm2'));
    expect(created.ok, created.out).toBe(true);
  });

  it.each(TENANT_CASES.map((c) => [c.what, c] as const))('may not %s', async (_what, c) => {
    const r = await as(TENANT, c.args(n), c.stdin?.(n));
    expect(r.ok, r.out).toBe(false);
    expect(r.out).toMatch(new RegExp(`Forbidden.*User "${TENANT}" cannot \\w+ resource "${c.resource.replace('/', '\\/')}"`));
  });

  it('left everything as it was', async () => {
    expect(await admin(['get', 'teammember', 'm', '-n', n.other, '-o', 'jsonpath={.metadata.name} {.status}'])).toBe('m ');
    expect(await admin(['get', 'keypolicy', n.policy, '-o', 'jsonpath={.spec.budget.limitUSD}'])).toBe('5');
    expect(await admin(['get', 'namespace', n.other, '-o', 'jsonpath={.status.phase}'])).toBe('Active');
    expect((await kubectl(['get', 'keypolicy', 'tenant-made'])).ok).toBe(false);
  });
});

describe('the aggregated roles grant what the README says', () => {
  /** `kubectl auth can-i --list` rows for teamkeys.dev resources: resource -> verbs */
  const grants = async (user: string) => {
    const out = await admin([`--as=${user}`, 'auth', 'can-i', '--list', '-n', n.own]);
    return Object.fromEntries(out.split('\n').filter((l) => l.includes('teamkeys.dev')).map((l) => {
      const cols = l.trim().split(/\s{2,}/);
      return [cols[0], (cols.at(-1) ?? '').replace(/^\[|\]$/g, '').split(' ').toSorted().join(' ')];
    }));
  };
  it('editors and admins: TeamMembers, every verb; viewers: read only', async () => {
    const all = 'create delete deletecollection get list patch update watch';
    expect(await grants(TENANT)).toEqual({
      'teammembers.teamkeys.dev': all,
      'keypolicies.teamkeys.dev': 'get list watch',
      'keypolicies.teamkeys.dev/status': 'get list watch',
      'teammembers.teamkeys.dev/status': 'get list watch',
    });
    expect(await grants(VIEWER)).toEqual({
      'keypolicies.teamkeys.dev': 'get list watch',
      'keypolicies.teamkeys.dev/status': 'get list watch',
      'teammembers.teamkeys.dev': 'get list watch',
      'teammembers.teamkeys.dev/status': 'get list watch',
    });
  });
});
