/** A KeyPolicy spec as the controller sees it once read: every default filled, durations in ms. */
import { resolvePolicy, type ResolvedPolicy } from '../../src/api/policy.ts';
import { API_VERSION, KeyPolicySpec } from '../../src/api/schema.ts';

export function resolved(spec: Record<string, unknown> = {}, name = 'p'): ResolvedPolicy {
  return resolvePolicy({ apiVersion: API_VERSION, kind: 'KeyPolicy', metadata: { name, uid: `uid-${name}` }, spec: KeyPolicySpec.parse(spec) });
}
