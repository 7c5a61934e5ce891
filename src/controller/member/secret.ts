/** The Secret a member gets, built purely from the member, its policy and the key. */
import { createHmac, timingSafeEqual, type KeyObject } from 'node:crypto';
import type { V1Secret } from '@kubernetes/client-node';
import {
  ANNOTATION_KEY_HASH, ANNOTATION_KEY_HMAC, API_VERSION, LABEL_MANAGED_BY, LABEL_MEMBER, MANAGER,
  type KeyPolicySpec, type TeamMember,
} from '../../api/schema.ts';
import { deepEqual } from '../mergepatch.ts';

export function defaultSecretName(member: TeamMember): string {
  return member.spec.secretName ?? `${member.metadata.name}-openrouter`;
}

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

export function isOwnedBy(secret: V1Secret, member: { metadata: { uid: string } }): boolean {
  return (secret.metadata?.ownerReferences ?? []).some((r) => r.uid === member.metadata.uid && r.controller === true);
}

function fill(template: string, member: TeamMember): string {
  return template.replaceAll('{{member}}', member.metadata.name).replaceAll('{{namespace}}', member.metadata.namespace ?? '');
}

export interface SecretInput {
  member: TeamMember;
  policy: KeyPolicySpec;
  apiKey: string;
  keyHash: string;
  hmac: string;
  baseUrl: string;
  /** the Secret being replaced: its resourceVersion guards the write, labels and annotations others added stay */
  existing?: V1Secret | undefined;
}

export function desiredSecret(i: SecretInput): V1Secret {
  const t = i.policy.secretTemplate;
  const keys = { apiKey: 'OPENROUTER_API_KEY', baseURL: 'OPENROUTER_BASE_URL', title: 'OPENROUTER_APP_TITLE', referer: 'OPENROUTER_HTTP_REFERER', ...t?.keys };
  const data: Record<string, string> = { [keys.apiKey]: i.apiKey, [keys.baseURL]: i.baseUrl };
  if (t?.attribution?.title) data[keys.title] = fill(t.attribution.title, i.member);
  if (t?.attribution?.referer) data[keys.referer] = fill(t.attribution.referer, i.member);
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: {
      name: defaultSecretName(i.member),
      namespace: i.member.metadata.namespace,
      labels: { ...i.existing?.metadata?.labels, ...t?.labels, [LABEL_MANAGED_BY]: MANAGER, [LABEL_MEMBER]: i.member.metadata.name },
      annotations: { ...i.existing?.metadata?.annotations, ...t?.annotations, [ANNOTATION_KEY_HASH]: i.keyHash, [ANNOTATION_KEY_HMAC]: i.hmac },
      ...(i.existing?.metadata?.resourceVersion ? { resourceVersion: i.existing.metadata.resourceVersion } : {}),
      ownerReferences: [{ apiVersion: API_VERSION, kind: 'TeamMember', name: i.member.metadata.name, uid: i.member.metadata.uid, controller: true, blockOwnerDeletion: true }],
    },
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  };
}

/**
 * The key string a Secret holds: under the policy's data key, or, after the policy renamed that data key, under
 * whichever data key holds the string the Secret's HMAC names (so a rename moves the key instead of replacing it).
 */
export function storedApiKey(secret: V1Secret, policy: KeyPolicySpec, hmacKey: KeyObject): string | undefined {
  const direct = apiKeyIn(secret, policy);
  if (direct !== undefined) return direct;
  const hmac = secret.metadata?.annotations?.[ANNOTATION_KEY_HMAC];
  for (const v of Object.values(secret.data ?? {})) {
    const s = Buffer.from(v, 'base64').toString('utf8');
    if (hmacMatches(hmacKey, s, hmac)) return s;
  }
  return undefined;
}

/** The key string stored in a Secret under the policy's data key, if any. */
export function apiKeyIn(secret: V1Secret, policy: KeyPolicySpec): string | undefined {
  const field = policy.secretTemplate?.keys?.apiKey ?? 'OPENROUTER_API_KEY';
  const v = secret.data?.[field];
  return v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8');
}

/** Whether the existing Secret already has everything the desired one has (extra labels from others are kept). */
export function secretUpToDate(existing: V1Secret, desired: V1Secret): boolean {
  const sub = (want: Record<string, string> | undefined, have: Record<string, string> | undefined) =>
    Object.entries(want ?? {}).every(([k, v]) => have?.[k] === v);
  return (
    deepEqual(existing.data ?? {}, desired.data ?? {}) &&
    sub(desired.metadata?.labels, existing.metadata?.labels) &&
    sub(desired.metadata?.annotations, existing.metadata?.annotations) &&
    deepEqual(existing.metadata?.ownerReferences, desired.metadata?.ownerReferences)
  );
}
