/**
 * What a tenant (a namespace editor: the built-in `edit` ClusterRole, which the aggregated teamkeys-edit role
 * extends, bound in their own namespace) is refused, by RBAC or the status subresource. Pure data:
 * test/integration/tenant.test.ts runs them as that user, hack/readme/refusals.ts lists them in docs/security.md.
 */
import { aMember, aPolicy, toYaml } from '../kit/objects.ts';

export interface Namespaces {
  /** the tenant's own namespace, holding their TeamMember `m` and its Secret */
  own: string;
  /** another team's namespace, with a member Secret of its own; nobody minds it being deleted */
  other: string;
  /** the operator's namespace, holding the management key Secret */
  system: string;
  /** a KeyPolicy that exists */
  policy: string;
}

export interface TenantCase {
  what: string;
  /** the resource the refusal names */
  resource: string;
  args: (n: Namespaces) => string[];
  /** the document a `create -f -` sends */
  stdin?: (n: Namespaces) => string;
}

const row = (what: string, resource: string, args: (n: Namespaces) => string[], stdin?: (n: Namespaces) => string): TenantCase => ({ what, resource, args, ...(stdin ? { stdin } : {}) });
const statusPatch = '{"status":{"conditions":[{"type":"Ready","status":"True","reason":"KeyReady","message":"forged","lastTransitionTime":"2026-01-01T00:00:00Z"}]}}';

export const TENANT_CASES: readonly TenantCase[] = [
  row('write their own TeamMember\'s status', 'teammembers/status', (n) => ['patch', 'teammember', 'm', '-n', n.own, '--subresource=status', '--type=merge', '-p', statusPatch]),
  row('create a KeyPolicy', 'keypolicies', () => ['create', '-f', '-'], () => toYaml(aPolicy('tenant-made', { budget: { limitUSD: 1000 } }))),
  row('raise a KeyPolicy\'s budget', 'keypolicies', (n) => ['patch', 'keypolicy', n.policy, '--type=merge', '-p', '{"spec":{"budget":{"limitUSD":1000}}}']),
  row('delete a KeyPolicy', 'keypolicies', (n) => ['delete', 'keypolicy', n.policy, '--wait=false']),
  row('write a KeyPolicy\'s status', 'keypolicies/status', (n) => ['patch', 'keypolicy', n.policy, '--subresource=status', '--type=merge', '-p', '{"status":{"members":0}}']),
  row('read the management key', 'secrets', (n) => ['get', 'secret', 'teamkeys-management-key', '-n', n.system]),
  row('read another team\'s member Secret', 'secrets', (n) => ['get', 'secret', 'm-openrouter', '-n', n.other]),
  row('list Secrets in every namespace', 'secrets', () => ['get', 'secrets', '--all-namespaces']),
  row('create a TeamMember in another team\'s namespace', 'teammembers', (n) => ['create', '-n', n.other, '-f', '-'], (n) => toYaml(aMember(n.other, 'intruder', n.policy))),
  row('delete another team\'s TeamMember', 'teammembers', (n) => ['delete', 'teammember', 'm', '-n', n.other, '--wait=false']),
  row('delete another team\'s namespace', 'namespaces', (n) => ['delete', 'namespace', n.other, '--wait=false']),
  row('change the TeamMember CRD', 'customresourcedefinitions', () => ['patch', 'crd', 'teammembers.teamkeys.dev', '--type=merge', '-p', '{"metadata":{"labels":{"x":"y"}}}']),
];
