/**
 * Bad input refused at `kubectl apply`: by kubectl itself (YAML, unknown fields), by the API server (names,
 * sizes), by the CRD's schema or by its CEL rules. Each case names the field its message must name. Pure data:
 * test/integration/validation.test.ts applies them, hack/readme/refusals.ts lists them in docs/security.md.
 */

export type AppliedBy = 'kubectl' | 'API server' | 'schema' | 'CEL';

export interface ApplyCase {
  what: string;
  /** the field (or part of the document) the refusal names */
  field: string;
  by: AppliedBy;
  /** the document, for a namespace the test creates */
  doc: (ns: string) => string;
  message: RegExp;
  /** sent as written to this API path (`kubectl create --raw`) instead of through `kubectl apply` */
  raw?: (ns: string) => string;
}

const policy = (name: string, spec: string) => () => `apiVersion: teamkeys.dev/v1alpha1\nkind: KeyPolicy\nmetadata: {name: ${name}}\nspec:\n${spec}`;
const member = (name: string, spec: string) => (ns: string) => `apiVersion: teamkeys.dev/v1alpha1\nkind: TeamMember\nmetadata: {name: ${name}, namespace: ${ns}}\nspec:\n${spec}`;
const row = (what: string, field: string, by: AppliedBy, doc: (ns: string) => string, message: RegExp): ApplyCase => ({ what, field, by, doc, message });

/** A YAML "billion laughs": ten levels of nine aliases each. */
const aliasBomb = (ns: string) => {
  const lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i < 10; i++) lines.push(`a${i}: &a${i} [${Array.from({ length: 9 }, () => `*a${i - 1}`).join(',')}]`);
  return `apiVersion: teamkeys.dev/v1alpha1\nkind: TeamMember\nmetadata: {name: laughs, namespace: ${ns}}\nspec:\n  policy: p\n  displayName: x\nx-bomb:\n${lines.map((l) => `  ${l}`).join('\n')}\n`;
};

export const APPLY_CASES: readonly ApplyCase[] = [
  // TeamMember: each field's type and range
  row('a member without a policy', 'spec.policy', 'schema', member('v1', '  displayName: x'), /spec.policy: Required value/),
  row('an empty policy name', 'spec.policy', 'schema', member('v9', '  policy: ""'), /spec.policy/),
  row('a policy reference that cannot be a KeyPolicy name', 'spec.policy', 'schema', member('v9b', '  policy: "Gold Tier"'), /spec.policy.*should match/),
  row('a negative member limit', 'spec.limitUSD', 'schema', member('v2', '  policy: p\n  limitUSD: -5'), /spec.limitUSD.*greater than or equal to 0/),
  row('an absurd member limit', 'spec.limitUSD', 'schema', member('v3', '  policy: p\n  limitUSD: 5000000'), /spec.limitUSD.*less than or equal to 1e\+06|spec.limitUSD.*1000000/),
  row('a limit that is not a number', 'spec.limitUSD', 'schema', member('v4', '  policy: p\n  limitUSD: lots'), /spec.limitUSD/),
  row('a limit of .nan (YAML)', 'spec.limitUSD', 'kubectl', member('v4b', '  policy: p\n  limitUSD: .nan'), /NaN|unsupported value/),
  row('suspended as a string', 'spec.suspended', 'schema', member('v8', '  policy: p\n  suspended: "maybe"'), /spec.suspended/),
  row('a bad secret name', 'spec.secretName', 'schema', member('v5', '  policy: p\n  secretName: Not_A_Name'), /spec.secretName/),
  row('a secret name as a number', 'spec.secretName', 'schema', member('v5b', '  policy: p\n  secretName: 5'), /spec.secretName.*string/),
  row('a secret name past 253 characters', 'spec.secretName', 'schema', member('v5c', `  policy: p\n  secretName: ${'s'.repeat(254)}`), /spec.secretName.*(Too long|at most 253)/),
  row('an expiresAt that is not a timestamp', 'spec.expiresAt', 'schema', member('v6', '  policy: p\n  expiresAt: next friday'), /spec.expiresAt/),
  row('an expiresAt with a space for the T', 'spec.expiresAt', 'schema', member('v6b', '  policy: p\n  expiresAt: "2027-06-30 18:00:00Z"'), /spec.expiresAt/),
  row('an expiresAt with an odd fraction separator', 'spec.expiresAt', 'schema', member('v6c', '  policy: p\n  expiresAt: "2027-06-30T18:00:00x5Z"'), /spec.expiresAt/),
  row('an expiresAt with an offset of 24 hours', 'spec.expiresAt', 'schema', member('v6d', '  policy: p\n  expiresAt: "2027-06-30T18:00:00+24:00"'), /spec.expiresAt/),
  row('a malformed email', 'spec.email', 'schema', member('v7', '  policy: p\n  email: not-an-email'), /spec.email/),
  row('an email past 320 characters', 'spec.email', 'schema', member('v7b', `  policy: p\n  email: ${'e'.repeat(320)}@example.com`), /spec.email/),
  row('a displayName with a terminal escape sequence', 'spec.displayName', 'schema', member('v10', '  policy: p\n  displayName: "Eve\\e[2J"'), /spec.displayName.*should match/),
  row('a displayName with a NUL character', 'spec.displayName', 'schema', member('v10b', '  policy: p\n  displayName: "a\\0b"'), /spec.displayName/),
  row('a displayName with a C1 control character', 'spec.displayName', 'schema', member('v10c', '  policy: p\n  displayName: "a\\x9bb"'), /spec.displayName.*should match/),
  row('a displayName past 200 characters', 'spec.displayName', 'schema', member('v10d', `  policy: p\n  displayName: ${'d'.repeat(201)}`), /spec.displayName.*(Too long|at most 200)/),
  row('an unknown field (a typo)', 'spec.limitUsd', 'kubectl', member('v11', '  policy: p\n  limitUsd: 5'), /unknown field "spec.limitUsd"/),
  // kubectl's own YAML reader keeps the last of two equal keys without a word; the API server, given the document
  // as written and asked for strict field validation (as kubectl asks), refuses it
  {
    what: 'a field given twice in one mapping, sent as written', field: 'spec.policy', by: 'API server',
    doc: (ns) => `{"apiVersion":"teamkeys.dev/v1alpha1","kind":"TeamMember","metadata":{"name":"v12","namespace":"${ns}"},"spec":{"policy":"p","policy":"q"}}`,
    raw: (ns) => `/apis/teamkeys.dev/v1alpha1/namespaces/${ns}/teammembers?fieldValidation=Strict`,
    message: /strict decoding error: duplicate field "spec.policy"/,
  },
  row('a YAML alias bomb', 'the document', 'kubectl', aliasBomb, /excessive aliasing/),
  row('a document past the API server\'s 3 MiB request limit', 'the request', 'API server', member('v13', `  policy: p\n  displayName: ${'x'.repeat(3_200_000)}`), /Request entity too large|too large/i),
  row('an unknown kind', 'kind', 'kubectl', (ns) => `apiVersion: teamkeys.dev/v1alpha1\nkind: Teammember\nmetadata: {name: v14, namespace: ${ns}}\nspec: {policy: p}`, /no matches for kind "Teammember"/),
  row('an unknown API version', 'apiVersion', 'kubectl', (ns) => `apiVersion: teamkeys.dev/v9\nkind: TeamMember\nmetadata: {name: v15, namespace: ${ns}}\nspec: {policy: p}`, /no matches for kind "TeamMember" in version "teamkeys.dev\/v9"/),
  // names at and past the limits
  row('a member name of 64 characters (its Secret label holds 63)', 'metadata.name', 'CEL', member('m'.repeat(64), '  policy: p'), /metadata.name.*at most 63 characters/),
  row('a member name with capitals', 'metadata.name', 'API server', member('Alice', '  policy: p'), /metadata.name: Invalid value: "Alice"/),
  row('a member name with a Cyrillic letter', 'metadata.name', 'API server', member('\u0430lice', '  policy: p'), /metadata.name: Invalid value/),
  row('a policy name of 254 characters', 'metadata.name', 'API server', policy('p'.repeat(254), '  budget: {limitUSD: 5}'), /metadata.name: Invalid value.*(no more than 253|at most 253)/),
  // KeyPolicy: each field's type and range, and the rules across fields
  row('an unknown reset period', 'spec.budget.reset', 'schema', policy('bad-reset', '  budget: {limitUSD: 5, reset: hourly}'), /spec.budget.reset.*Unsupported value: "hourly"/),
  row('a negative policy limit', 'spec.budget.limitUSD', 'schema', policy('bad-limit', '  budget: {limitUSD: -1}'), /spec.budget.limitUSD/),
  row('a negative member maximum', 'spec.budget.memberMaxUSD', 'schema', policy('bad-max-neg', '  budget: {memberMaxUSD: -1}'), /spec.budget.memberMaxUSD/),
  row('memberMaxUSD below limitUSD', 'spec.budget.memberMaxUSD', 'CEL', policy('bad-max', '  budget: {limitUSD: 50, memberMaxUSD: 10}'), /spec.budget.memberMaxUSD.*memberMaxUSD must be at least limitUSD/),
  row('includeByok as a string', 'spec.budget.includeByok', 'schema', policy('bad-byok', '  budget: {includeByok: "no"}'), /spec.budget.includeByok.*boolean/),
  row('a keyTTL that is not a duration', 'spec.keyTTL', 'schema', policy('bad-ttl', '  keyTTL: 90 days'), /spec.keyTTL/),
  row('a keyTTL under an hour', 'spec.keyTTL', 'CEL', policy('short-ttl', '  keyTTL: 5m'), /spec.keyTTL.*at least 1h/),
  row('an empty pool', 'spec.pool', 'CEL', policy('pool-empty', '  pool: {includeByok: true}'), /spec.pool.*at least one of daily, weekly, monthly, lifetime/),
  row('a daily pool not under the monthly one', 'spec.pool.daily', 'CEL', policy('pool-order', '  pool: {daily: 50, monthly: 20}'), /spec.pool.daily.*less than pool.monthly/),
  row('a pool of zero', 'spec.pool.monthly', 'CEL', policy('pool-zero', '  pool: {monthly: 0}'), /spec.pool.monthly.*at least 0.01 USD/),
  row('a renewBefore without keyTTL', 'spec.renewBefore', 'CEL', policy('renew-no-ttl', '  renewBefore: 2h'), /spec.renewBefore.*needs keyTTL/),
  row('a renewBefore over half of keyTTL', 'spec.renewBefore', 'CEL', policy('renew-long', '  keyTTL: 24h\n  renewBefore: 12h1m'), /spec.renewBefore.*at most half of it/),
  row('a renewBefore not longer than the overlap', 'spec.rotation.overlap', 'CEL', policy('renew-overlap', '  keyTTL: 24h\n  renewBefore: 2h\n  rotation: {overlap: 3h}'), /spec.rotation.overlap.*shorter than renewBefore/),
  row('a renewBefore not longer than the default overlap (10m)', 'spec.rotation.overlap', 'CEL', policy('renew-default', '  keyTTL: 1h\n  renewBefore: 5m'), /spec.rotation.overlap.*default 10m.*shorter than renewBefore/),
  row('an overlap of a third of keyTTL or more (the default renewBefore)', 'spec.rotation.overlap', 'CEL', policy('renew-default-overlap', '  keyTTL: 3h\n  rotation: {overlap: 1h}'), /spec.rotation.overlap.*shorter than renewBefore/),
  row('an unknown deletion policy', 'spec.deletionPolicy', 'schema', policy('bad-del', '  deletionPolicy: Shred'), /spec.deletionPolicy.*Unsupported value: "Shred"/),
  row('a sync interval under 30s', 'spec.usage.syncInterval', 'CEL', policy('bad-sync', '  usage: {syncInterval: 5s}'), /spec.usage.syncInterval.*at least 30s/),
  row('a warning threshold over 100%', 'spec.usage.warnAtPercent', 'schema', policy('bad-warn', '  usage: {warnAtPercent: 150}'), /spec.usage.warnAtPercent/),
  row('a negative warning threshold', 'spec.usage.warnAtPercent', 'schema', policy('bad-warn-neg', '  usage: {warnAtPercent: -1}'), /spec.usage.warnAtPercent/),
  row('a bad namespace selector operator', 'spec.namespaceSelector', 'schema', policy('bad-sel', '  namespaceSelector:\n    matchExpressions: [{key: tier, operator: Maybe}]'), /spec.namespaceSelector.matchExpressions\[0\].operator/),
  row('an empty workspace', 'spec.workspace', 'schema', policy('bad-ws', '  workspace: ""'), /spec.workspace/),
  row('duplicate Secret data keys', 'spec.secretTemplate.keys', 'CEL', policy('dup-keys', '  secretTemplate:\n    keys: {apiKey: KEY, baseURL: KEY}'), /spec.secretTemplate.keys.*must be distinct/),
  row('a bad Secret data key name', 'spec.secretTemplate.keys.apiKey', 'schema', policy('bad-key', '  secretTemplate:\n    keys: {apiKey: "my key"}'), /spec.secretTemplate.keys.apiKey/),
  row('a Secret label key that is not a label key', 'spec.secretTemplate.labels', 'CEL', policy('bad-label-key', '  secretTemplate:\n    labels: {"team name": x}'), /spec.secretTemplate.labels.*label keys/),
  row('a Secret label value longer than 63', 'spec.secretTemplate.labels', 'schema', policy('bad-label-value', `  secretTemplate:\n    labels: {team: ${'v'.repeat(64)}}`), /spec.secretTemplate.labels/),
  row('a Secret label value with a space', 'spec.secretTemplate.labels', 'schema', policy('bad-label-space', '  secretTemplate:\n    labels: {team: "a b"}'), /spec.secretTemplate.labels/),
  row('a Secret annotation key with two slashes', 'spec.secretTemplate.annotations', 'CEL', policy('bad-annotation', '  secretTemplate:\n    annotations: {"a/b/c": x}'), /spec.secretTemplate.annotations.*annotation keys/),
  row('a rotation period under an hour', 'spec.rotation.every', 'CEL', policy('rot-short', '  rotation: {every: 30m}'), /spec.rotation.every.*between 1h and 8760h/),
  row('a rotation period over a year', 'spec.rotation.every', 'CEL', policy('rot-long', '  rotation: {every: 9000h}'), /spec.rotation.every.*between 1h and 8760h/),
  row('a rotation period not longer than its overlap', 'spec.rotation.every', 'CEL', policy('rot-overlap', '  rotation: {every: 2h, overlap: 2h}'), /spec.rotation.every.*longer than rotation.overlap/),
  row('an overlap over 720h', 'spec.rotation.overlap', 'CEL', policy('rot-big-overlap', '  rotation: {overlap: 800h}'), /spec.rotation.overlap.*at most 720h/),
  row('a negative overlap', 'spec.rotation.overlap', 'schema', policy('rot-neg', '  rotation: {overlap: -5m}'), /spec.rotation.overlap/),
  row('an overlap allowance over 50%', 'spec.rotation.overlapAllowancePercent', 'schema', policy('rot-allow', '  rotation: {overlapAllowancePercent: 80}'), /spec.rotation.overlapAllowancePercent/),
  row('a retention over 720h', 'spec.rotation.retainDisabled', 'CEL', policy('rot-retain', '  rotation: {retainDisabled: 1000h}'), /spec.rotation.retainDisabled.*at most 720h/),
  row('an empty model allowlist', 'spec.models.allow', 'schema', policy('m-empty', '  models: {allow: []}'), /spec.models.allow.*should have at least 1 items/),
  row('a models block with no list', 'spec.models', 'CEL', policy('m-none', '  models: {}'), /spec.models.*needs allow, deny or both/),
  row('a model id without its author', 'spec.models.allow[0]', 'schema', policy('m-slug', '  models: {allow: [gpt-4o]}'), /spec.models.allow\[0\].*should match/),
  row('a model id with spaces', 'spec.models.allow[0]', 'schema', policy('m-space', '  models: {allow: ["openai/gpt 4o"]}'), /spec.models.allow\[0\].*should match/),
  row('a model both allowed and denied', 'spec.models.deny', 'CEL', policy('m-both', '  models: {allow: [openai/gpt-4o-mini, openai/gpt-4.1], deny: [openai/gpt-4.1]}'), /spec.models.deny.*both allowed and denied/),
  row('a model listed twice', 'spec.models.allow[1]', 'schema', policy('m-twice', '  models: {allow: [openai/gpt-4o-mini, openai/gpt-4o-mini]}'), /spec.models.allow\[1\].*Duplicate value/),
  row('more than 100 models', 'spec.models.allow', 'schema', policy('m-many', `  models: {allow: [${Array.from({ length: 101 }, (_, i) => `a/m${i}`).join(', ')}]}`), /spec.models.allow.*must have at most 100 items/),
  row('a provider slug with a slash', 'spec.providers.deny[0]', 'schema', policy('p-slug', '  providers: {deny: [openai/azure]}'), /spec.providers.deny\[0\].*should match/),
  row('a provider both allowed and denied', 'spec.providers.deny', 'CEL', policy('p-both', '  providers: {allow: [openai], deny: [openai]}'), /spec.providers.deny.*both allowed and denied/),
  row('zero data retention that is not a boolean', 'spec.zeroDataRetention', 'schema', policy('zdr', '  zeroDataRetention: "yes"'), /spec.zeroDataRetention.*boolean/),
  row('an inactivity period under an hour', 'spec.inactivity.disableAfter', 'CEL', policy('idle-short', '  inactivity: {disableAfter: 30m}'), /spec.inactivity.disableAfter.*between 1h and 8760h/),
  row('inactivity without disableAfter', 'spec.inactivity.disableAfter', 'schema', policy('idle-none', '  inactivity: {deleteAfter: 1000h}'), /spec.inactivity.disableAfter: Required value/),
  row('a deletion not after the disabling', 'spec.inactivity.deleteAfter', 'CEL', policy('idle-order', '  inactivity: {disableAfter: 720h, deleteAfter: 720h}'), /spec.inactivity.deleteAfter.*longer than disableAfter/),
];
