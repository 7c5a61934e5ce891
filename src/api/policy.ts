/**
 * A KeyPolicy resolved once, when it is read: every default filled from the schema itself (a nested default
 * applies only when its parent is present, so an omitted `budget` or `rotation` is parsed as an empty object
 * here) and every duration in milliseconds. Decisions take this and never restate a default or parse a duration.
 */
import { parseDuration } from '../util/duration.ts';
import { API_VERSION, Budget, KeyPolicySpec, Rotation, SecretKeys, UsageSettings, type DeletionPolicy, type DisabledOutsidePolicy, type KeyPolicy, type ResetPeriod } from './schema.ts';

export interface ResolvedPolicy {
  name: string;
  /** the object as read (its guardrail, workspace and Events are about it) */
  object: KeyPolicy;
  spec: KeyPolicySpec;
  budget: { limitUSD: number | undefined; reset: ResetPeriod; includeByok: boolean; memberMaxUSD: number | undefined };
  keyTtlMs: number | undefined;
  /** as written; undefined: a third of the key's lifetime (rotation.ts renewalDue) */
  renewBeforeMs: number | undefined;
  deletionPolicy: DeletionPolicy;
  onDisabledOutside: DisabledOutsidePolicy;
  warnAtPercent: number;
  syncIntervalMs: number;
  rotation: { everyMs: number | undefined; overlapMs: number; allowancePercent: number; retainDisabledMs: number; historyLimit: number };
  /** as written (for messages) and in ms */
  inactivity: { disableAfter: string; disableAfterMs: number; deleteAfter: string | undefined; deleteAfterMs: number | undefined } | undefined;
  secretKeys: { apiKey: string; baseURL: string; title: string; referer: string };
}

const resolved = new WeakMap<KeyPolicy, ResolvedPolicy>();

/** The same object for the same policy object: the caches hand out one parsed object until the policy changes. */
export function resolvePolicy(p: KeyPolicy): ResolvedPolicy {
  let r = resolved.get(p);
  if (!r) {
    r = resolve(p);
    resolved.set(p, r);
  }
  return r;
}

function resolve(p: KeyPolicy): ResolvedPolicy {
  const s = p.spec;
  const budget = Budget.parse(s.budget ?? {});
  const rotation = Rotation.parse(s.rotation ?? {});
  const usage = UsageSettings.parse(s.usage ?? {});
  const idle = s.inactivity;
  return {
    name: p.metadata.name,
    object: p,
    spec: s,
    budget: { limitUSD: budget.limitUSD, reset: budget.reset, includeByok: budget.includeByok, memberMaxUSD: budget.memberMaxUSD },
    keyTtlMs: s.keyTTL === undefined ? undefined : parseDuration(s.keyTTL),
    renewBeforeMs: s.renewBefore === undefined ? undefined : parseDuration(s.renewBefore),
    deletionPolicy: s.deletionPolicy,
    onDisabledOutside: s.onDisabledOutside,
    warnAtPercent: usage.warnAtPercent,
    syncIntervalMs: parseDuration(usage.syncInterval),
    rotation: {
      everyMs: rotation.every === undefined ? undefined : parseDuration(rotation.every),
      overlapMs: parseDuration(rotation.overlap),
      allowancePercent: rotation.overlapAllowancePercent,
      retainDisabledMs: parseDuration(rotation.retainDisabled),
      historyLimit: rotation.historyLimit,
    },
    inactivity: idle && {
      disableAfter: idle.disableAfter,
      disableAfterMs: parseDuration(idle.disableAfter),
      deleteAfter: idle.deleteAfter,
      deleteAfterMs: idle.deleteAfter === undefined ? undefined : parseDuration(idle.deleteAfter),
    },
    secretKeys: SecretKeys.parse(s.secretTemplate?.keys ?? {}),
  };
}

/** What a member without a readable policy is handled with (offboarding, retiring previous keys): the schema's defaults. */
export const POLICY_DEFAULTS: ResolvedPolicy = resolve({ apiVersion: API_VERSION, kind: 'KeyPolicy', metadata: { name: '', uid: '' }, spec: KeyPolicySpec.parse({}) });
