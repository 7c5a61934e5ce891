/**
 * A KeyPolicy resolved once, when it is read: every default filled from the schema itself (a nested default
 * applies only when its parent is present, so an omitted `budget` or `rotation` is parsed as an empty object
 * here) and every duration in milliseconds. Decisions take this and never restate a default or parse a duration.
 */
import { parseDuration } from '../util/duration.ts';
import { API_VERSION, Budget, KeyPolicySpec, POOL_WINDOW_NAMES, Rotation, SecretKeys, UsageSettings, type DeletionPolicy, type DisabledOutsidePolicy, type KeyPolicy, type PoolWindow, type ResetPeriod } from './schema.ts';

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
  /**
   * The workspace member keys are created in: spec.workspace as written, or with a pool and no spec.workspace the
   * one the operator owns for the policy; undefined: the default workspace.
   */
  workspace: { ref: string; owned: boolean } | undefined;
  /** spec.pool: the cap per window (absent windows: none) */
  pool: { limits: Partial<Record<PoolWindow, number>>; includeByok: boolean } | undefined;
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
    workspace: s.workspace !== undefined ? { ref: s.workspace, owned: false } : s.pool ? { ref: ownedWorkspaceSlug(p.metadata.name, p.metadata.uid), owned: true } : undefined,
    pool: s.pool && {
      limits: Object.fromEntries(POOL_WINDOW_NAMES.flatMap((w) => (s.pool?.[w] === undefined ? [] : [[w, s.pool[w]]]))),
      includeByok: s.pool.includeByok,
    },
  };
}

/**
 * The slug of the workspace the operator creates for a pooled policy: its name and its UID, so every operator
 * serving the policy (shards of one cluster) finds the same workspace, and a policy re-created gets a new one.
 * OpenRouter's slug: lowercase words joined by single hyphens, at most 50 characters.
 */
export function ownedWorkspaceSlug(name: string, uid: string): string {
  const words = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 36).replace(/-+$/, '');
  const id = uid.toLowerCase().replace(/[^a-z0-9]/g, '').slice(0, 8) || '0';
  return `tk-${words ? `${words}-` : ''}${id}`;
}

/** What a member without a readable policy is handled with (offboarding, retiring previous keys): the schema's defaults. */
export const POLICY_DEFAULTS: ResolvedPolicy = resolve({ apiVersion: API_VERSION, kind: 'KeyPolicy', metadata: { name: '', uid: '' }, spec: KeyPolicySpec.parse({}) });
