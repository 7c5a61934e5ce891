/**
 * Input the API server cannot judge (it depends on other objects or on time), refused by the operator: the member's
 * Ready condition says why, naming the field, and no key is made. Pure data: test/integration/refusals.test.ts runs
 * them; the management-key rows are scenarios of test/integration/credentials.test.ts. hack/readme/refusals.ts lists
 * both in docs/security.md.
 */
import type { MemberSpec, PolicySpec } from '../kit/objects.ts';

export interface OperatorCase {
  what: string;
  field: string;
  /** Ready=False with this reason */
  reason: string;
  message: RegExp;
  /** what is applied before the member (a policy named p-<ns>, a Secret) and the member's spec, given that policy's name */
  policy: PolicySpec;
  member: (policy: string) => MemberSpec;
  /** a Secret of someone else's, already in the namespace */
  foreignSecret?: string;
}

const row = (what: string, field: string, reason: string, message: RegExp, policy: PolicySpec, member: OperatorCase['member'], foreignSecret?: string): OperatorCase =>
  ({ what, field, reason, message, policy, member, ...(foreignSecret ? { foreignSecret } : {}) });

export const OPERATOR_CASES: readonly OperatorCase[] = [
  row('a policy reference to nothing', 'spec.policy', 'PolicyNotFound', /^spec.policy: KeyPolicy "nothing-here" does not exist$/, { budget: { limitUSD: 5 } }, () => ({ policy: 'nothing-here' })),
  row('a member limit above the policy\'s memberMaxUSD', 'spec.limitUSD', 'LimitAboveMax', /^spec.limitUSD 50 is above the policy's maximum of 20 USD per member/, { budget: { limitUSD: 5, memberMaxUSD: 20 } }, (policy) => ({ policy, limitUSD: 50 })),
  row('a policy whose namespaceSelector leaves the member\'s namespace out', 'spec.policy', 'PolicyNotAllowed', /^spec.policy: KeyPolicy "p-.*" does not allow namespace/, { namespaceSelector: { matchLabels: { tier: 'gold' } } }, (policy) => ({ policy })),
  row('a secretName naming a Secret teamkeys does not own', 'spec.secretName', 'SecretConflict', /Secret .*\/theirs exists and is not managed by teamkeys; delete it or set spec.secretName/, {}, (policy) => ({ policy, secretName: 'theirs' }), 'theirs'),
];

/** The management-key Secret, checked before any call: each a scenario in credentials.test.ts (the test's title). */
export interface CredentialCase {
  what: string;
  reason: string;
  test: string;
}

export const CREDENTIAL_CASES: readonly CredentialCase[] = [
  { what: 'the management-key Secret missing', reason: 'SecretMissing', test: 'reports a missing Secret and starts once it appears' },
  { what: 'the Secret without its apiKey entry, or with it empty', reason: 'KeyMissing', test: 'reports a Secret without the key, or with it empty, and calls nothing' },
  { what: 'a standard (inference) key instead of a management key', reason: 'NotManagementKey', test: 'refuses a standard key with a clear error and no hot loop, then picks up a replacement without a restart' },
  { what: 'a key OpenRouter does not know (revoked, or never issued)', reason: 'Rejected', test: 'notices a management key revoked while it runs, pauses, and resumes when it works again' },
];
