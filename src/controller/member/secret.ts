/** The Secret a member gets, built purely from the member, its policy and the key; and what a Secret holds. */
import { createHmac, timingSafeEqual, type KeyObject } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { ResolvedPolicy } from '../../api/policy.ts';
import { ANNOTATION_ISSUED_AT, ANNOTATION_KEY_HASH, ANNOTATION_KEY_HMAC, API_VERSION, LABEL_MANAGED_BY, LABEL_MEMBER, MANAGER, memberSecretName, type TeamMember } from '../../api/schema.ts';
import type { SecretObject } from '../../domain/secret.ts';

/** An HMAC, never a plain hash, so the annotation tells nothing about the key to someone who can read it. */
export function keyHmac(hmacKey: KeyObject, apiKey: string): string {
  return createHmac('sha256', hmacKey).update(apiKey).digest('hex');
}

export function hmacMatches(hmacKey: KeyObject, apiKey: string, expected: string | undefined): boolean {
  if (!expected) return false;
  const a = Buffer.from(keyHmac(hmacKey, apiKey), 'hex');
  const b = Buffer.from(expected, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Whether a key string fits OpenRouter's masked preview of it (`sk-or-v1-abc...xyz`). */
export function previewMatches(label: string, apiKey: string): boolean {
  const m = /^(.*)\.\.\.(.*)$/.exec(label);
  return m !== null && (m[1] ?? '').length >= 12 && apiKey.startsWith(m[1] ?? '') && apiKey.endsWith(m[2] ?? '') && apiKey.length > label.length - 3;
}

export function isOwnedBy(secret: SecretObject, member: { metadata: { uid: string } }): boolean {
  return secret.ownerReferences.some((r) => r.uid === member.metadata.uid && r.controller === true);
}

function fill(template: string, member: TeamMember): string {
  return template.replaceAll('{{member}}', member.metadata.name).replaceAll('{{namespace}}', member.metadata.namespace ?? '');
}

export interface SecretInput {
  member: TeamMember;
  policy: ResolvedPolicy;
  apiKey: string;
  keyHash: string;
  hmac: string;
  baseUrl: string;
  /** the Secret being replaced: its resourceVersion guards the write, labels and annotations others added stay */
  existing?: SecretObject | undefined;
  /** with a new key: when the operator asked for it, kept on the Secret for a crash's recovery (decide.ts) */
  issuedAt?: string | undefined;
}

export function desiredSecret(i: SecretInput): SecretObject {
  const t = i.policy.spec.secretTemplate;
  const keys = i.policy.secretKeys;
  const data: Record<string, string> = { [keys.apiKey]: i.apiKey, [keys.baseURL]: i.baseUrl };
  if (t?.attribution?.title) data[keys.title] = fill(t.attribution.title, i.member);
  if (t?.attribution?.referer) data[keys.referer] = fill(t.attribution.referer, i.member);
  return {
    name: memberSecretName(i.member.metadata.name, i.member.spec.secretName),
    namespace: i.member.metadata.namespace ?? '',
    labels: { ...i.existing?.labels, ...t?.labels, [LABEL_MANAGED_BY]: MANAGER, [LABEL_MEMBER]: i.member.metadata.name },
    annotations: { ...i.existing?.annotations, ...t?.annotations, [ANNOTATION_KEY_HASH]: i.keyHash, [ANNOTATION_KEY_HMAC]: i.hmac, ...(i.issuedAt ? { [ANNOTATION_ISSUED_AT]: i.issuedAt } : {}) },
    resourceVersion: i.existing?.resourceVersion,
    ownerReferences: [{ apiVersion: API_VERSION, kind: 'TeamMember', name: i.member.metadata.name, uid: i.member.metadata.uid, controller: true, blockOwnerDeletion: true }],
    data,
  };
}

/**
 * The key string a Secret holds: under the policy's data key, or, after the policy renamed that data key, under
 * whichever data key holds the string the Secret's HMAC names (so a rename moves the key instead of replacing it).
 */
export function storedApiKey(secret: SecretObject, policy: ResolvedPolicy, hmacKey: KeyObject): string | undefined {
  const direct = secret.data[policy.secretKeys.apiKey];
  if (direct !== undefined) return direct;
  const hmac = secret.annotations[ANNOTATION_KEY_HMAC];
  return Object.values(secret.data).find((s) => hmacMatches(hmacKey, s, hmac));
}

/** Whether the existing Secret already has everything the desired one has (extra labels from others are kept). */
export function secretUpToDate(existing: SecretObject, desired: SecretObject): boolean {
  const sub = (want: Record<string, string>, have: Record<string, string>) => Object.entries(want).every(([k, v]) => have[k] === v);
  return (
    isDeepStrictEqual(existing.data, desired.data) &&
    sub(desired.labels, existing.labels) &&
    sub(desired.annotations, existing.annotations) &&
    isDeepStrictEqual(existing.ownerReferences.map(ownerJson), desired.ownerReferences.map(ownerJson))
  );
}

/** An owner reference as the API server stores it (absent flags dropped), so comparing never reads drift. */
function ownerJson(r: SecretObject['ownerReferences'][number]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined));
}
