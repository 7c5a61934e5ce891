/** Pure: what guardrail a policy wants, its name, and how its state reads in status. */
import { createHash } from 'node:crypto';
import type { GuardrailStatus, KeyPolicySpec } from '../../api/schema.ts';
import type { Guardrail, GuardrailRules } from '../../domain/guardrail.ts';

/** OpenRouter's limit on guardrail names. */
const NAME_MAX = 200;

/** Every guardrail this cluster's operator owns starts with this. */
export function guardrailPrefix(clusterId: string): string {
  return `teamkeys/${clusterId}/`;
}

/** One guardrail per policy and cluster; a policy name too long for OpenRouter is shortened with a digest. */
export function guardrailName(clusterId: string, policy: string): string {
  const name = guardrailPrefix(clusterId) + policy;
  if (name.length <= NAME_MAX) return name;
  const digest = createHash('sha256').update(policy).digest('hex').slice(0, 12);
  return `${name.slice(0, NAME_MAX - 13)}~${digest}`;
}

/** The rules the policy asks for; undefined when it restricts nothing (no guardrail is needed). */
export function desiredRules(spec: KeyPolicySpec): GuardrailRules | undefined {
  const r: GuardrailRules = {
    allowedModels: spec.models?.allow,
    deniedModels: spec.models?.deny,
    allowedProviders: spec.providers?.allow,
    deniedProviders: spec.providers?.deny,
    zeroDataRetention: spec.zeroDataRetention ?? false,
  };
  const restricts = r.allowedModels || r.deniedModels || r.allowedProviders || r.deniedProviders || r.zeroDataRetention;
  return restricts ? r : undefined;
}

/** A fingerprint of what was asked, order-insensitive: unchanged spec, unchanged fingerprint. */
export function rulesFingerprint(r: GuardrailRules): string {
  const sorted = (l: string[] | undefined) => (l ? l.toSorted() : null);
  const canonical = JSON.stringify([sorted(r.allowedModels), sorted(r.deniedModels), sorted(r.allowedProviders), sorted(r.deniedProviders), r.zeroDataRetention]);
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}

const lists = (allow: string[] | undefined, deny: string[] | undefined) =>
  allow || deny ? { ...(allow ? { allow } : {}), ...(deny ? { deny } : {}) } : undefined;

/** The guardrail as OpenRouter reports it, for status (canonical model ids). */
export function reportedRules(g: Guardrail): Pick<GuardrailStatus, 'models' | 'providers' | 'zeroDataRetention'> {
  const models = lists(g.allowedModels, g.deniedModels);
  const providers = lists(g.allowedProviders, g.deniedProviders);
  return { ...(models ? { models } : {}), ...(providers ? { providers } : {}), zeroDataRetention: g.zeroDataRetention };
}

/** The rules recorded in status, back in the port's terms, to compare with what OpenRouter reports now. */
export function recordedRules(s: GuardrailStatus): GuardrailRules {
  return { allowedModels: s.models?.allow, deniedModels: s.models?.deny, allowedProviders: s.providers?.allow, deniedProviders: s.providers?.deny, zeroDataRetention: s.zeroDataRetention };
}

/** The MODELS column: "all", up to two ids, or a count. */
export function modelsShown(spec: KeyPolicySpec): string {
  const allow = spec.models?.allow;
  const deny = spec.models?.deny;
  const denied = deny ? ` (${deny.length} denied)` : '';
  if (!allow) return `all${denied}`;
  return (allow.length <= 2 ? allow.join(', ') : `${allow.length} allowed`) + denied;
}
