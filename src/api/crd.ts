/** Generates the CRDs in crds/ from the zod schemas in schema.ts. */
import { z } from 'zod';
import { stringify } from 'yaml';
import type { Json } from '../util/json.ts';
import { GROUP, KeyPolicySpec, KeyPolicyStatus, TEAMMEMBER_RULES, TeamMemberSpec, TeamMemberStatus, VERSION } from './schema.ts';

/** Turns zod's JSON Schema into a Kubernetes structural schema (a subset of OpenAPI v3). */
function structural(node: Json, isProperties = false): Json {
  if (Array.isArray(node)) return node.map((n) => structural(n));
  if (node === null || typeof node !== 'object') return node;
  const out: { [k: string]: Json } = {};
  for (const [k, v] of Object.entries(node)) {
    // (a field may be called id; zod's own schema id may not stay)
    if (!isProperties && (k === '$schema' || k === 'propertyNames' || k === 'id')) continue;
    if (k === 'additionalProperties' && v === false) continue;
    // zod bounds integers to the safe range; Kubernetes needs no such bound
    if ((k === 'minimum' || k === 'maximum') && typeof v === 'number' && Math.abs(v) >= Number.MAX_SAFE_INTEGER) continue;
    out[k] = structural(v, k === 'properties' && !isProperties);
  }
  return out;
}

const schemaOf = (s: z.ZodType): Json => structural(z.toJSONSchema(s, { io: 'input', unrepresentable: 'throw' }) as Json);

function crd(kind: string, plural: string, shortName: string, scope: 'Cluster' | 'Namespaced', spec: z.ZodType, status: z.ZodType, columns: Json[], rules: Json[] = []): Json {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${GROUP}` },
    spec: {
      group: GROUP,
      scope,
      names: { kind, listKind: `${kind}List`, plural, singular: kind.toLowerCase(), shortNames: [shortName], categories: ['teamkeys'] },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: columns,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              required: ['spec'],
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec: schemaOf(spec),
                status: schemaOf(status),
              },
              ...(rules.length > 0 ? { 'x-kubernetes-validations': rules } : {}),
            },
          },
        },
      ],
    },
  };
}

const ready = { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' };
/** Why a resource is not ready, without `describe` (as cert-manager shows it); the message in -o wide. */
const reason = { name: 'Reason', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].reason' };
const message = { name: 'Message', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].message', priority: 1 };
const age = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };

function keyPolicyCrd(): Json {
  return crd('KeyPolicy', 'keypolicies', 'kp', 'Cluster', KeyPolicySpec, KeyPolicyStatus, [
    ready,
    reason,
    { name: 'Members', type: 'integer', jsonPath: '.status.members' },
    { name: 'Ready-Members', type: 'integer', jsonPath: '.status.readyMembers' },
    { name: 'Limit', type: 'number', jsonPath: '.spec.budget.limitUSD' },
    { name: 'Reset', type: 'string', jsonPath: '.spec.budget.reset' },
    { name: 'Spend', type: 'number', jsonPath: '.status.spendThisWindowUSD' },
    { name: 'Models', type: 'string', jsonPath: '.status.models' },
    { name: 'Guardrail', type: 'string', jsonPath: '.status.conditions[?(@.type=="GuardrailSynced")].reason' },
    { name: 'Pool', type: 'string', jsonPath: '.status.pool.shown' },
    { name: 'Pool-Budget', type: 'string', jsonPath: '.status.conditions[?(@.type=="PoolBudget")].reason' },
    { name: 'Refuses-First', type: 'string', jsonPath: '.status.pool.refusesFirst', priority: 1 },
    { name: 'Forecast-Exhausting', type: 'integer', jsonPath: '.status.forecastExhausting', priority: 1 },
    message,
    age,
  ]);
}

function teamMemberCrd(): Json {
  return crd('TeamMember', 'teammembers', 'tm', 'Namespaced', TeamMemberSpec, TeamMemberStatus, [
    ready,
    reason,
    { name: 'Policy', type: 'string', jsonPath: '.spec.policy' },
    { name: 'Limit', type: 'number', jsonPath: '.status.budget.limitUSD' },
    { name: 'Used', type: 'number', jsonPath: '.status.usage.windowUSD' },
    { name: 'Remaining', type: 'number', jsonPath: '.status.budget.remainingUSD' },
    { name: 'Reset', type: 'string', jsonPath: '.status.budget.reset' },
    { name: 'Next-Rotation', type: 'string', jsonPath: '.status.rotation.nextRotationAt', priority: 1 },
    { name: 'Exhausts-At', type: 'string', jsonPath: '.status.usage.forecast.exhaustsAt', priority: 1 },
    { name: 'Inactive-Since', type: 'string', jsonPath: '.status.inactive.since', priority: 1 },
    message,
    age,
  ], TEAMMEMBER_RULES);
}

const HEADER = '# Generated from src/api/schema.ts by `teamkeys crds`; do not edit by hand.\n';

export function crdFiles(): Record<string, string> {
  return {
    'teamkeys.dev_keypolicies.yaml': HEADER + stringify(keyPolicyCrd(), { lineWidth: 0 }),
    'teamkeys.dev_teammembers.yaml': HEADER + stringify(teamMemberCrd(), { lineWidth: 0 }),
  };
}
