/**
 * The teamkeys API, group teamkeys.dev/v1alpha1. These zod schemas are the single source of truth: the
 * TypeScript types are inferred from them, objects read from the cluster are parsed with them, and the CRD YAML
 * in crds/ is generated from them (`teamkeys crds`; a test fails when the committed YAML drifts).
 */
import { z } from 'zod';
import { DURATION } from '../util/duration.ts';
import { RESET_PERIODS, type ResetPeriod as Period } from '../util/windows.ts';

export const GROUP = 'teamkeys.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

type Rule = { rule: string; message: string; reason?: string; fieldPath?: string };
const cel = (...rules: Rule[]) => ({ 'x-kubernetes-validations': rules });

const duration = (what: string) => z.string().regex(DURATION, `${what} must be a duration such as 90m or 2160h`).max(32);

const usd = (what: string) => z.number().min(0).max(1_000_000).meta({ description: `${what}, in USD (0 to 1,000,000).` });

const LabelSelectorRequirement = z.object({
  key: z.string().min(1).max(317),
  operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']),
  values: z.array(z.string().max(63)).max(64).optional(),
});

export const LabelSelector = z
  .object({
    matchLabels: z.record(z.string(), z.string()).optional().meta({ description: 'Namespaces carrying all of these labels match.' }),
    matchExpressions: z.array(LabelSelectorRequirement).max(32).optional().meta({ description: 'Label requirements, as in any Kubernetes label selector.' }),
  })
  .meta({ description: 'Which namespaces may use this policy. Omitted: every namespace. An empty selector also matches every namespace.' });

export const ResetPeriod = z.enum(RESET_PERIODS);
export type ResetPeriod = Period;

export const DeletionPolicy = z.enum(['Delete', 'Disable', 'Retain']);
export type DeletionPolicy = z.infer<typeof DeletionPolicy>;

export const DisabledOutsidePolicy = z.enum(['Replace', 'Respect']);
export type DisabledOutsidePolicy = z.infer<typeof DisabledOutsidePolicy>;

export const Budget = z
  .object({
    limitUSD: usd('Spending cap per reset window for each member key; omitted means no cap').optional(),
    reset: ResetPeriod.default('monthly').meta({ description: 'When the cap resets: daily, weekly (Monday), monthly (1st) at 00:00 UTC, or never.' }),
    includeByok: z.boolean().default(false).meta({ description: 'Count bring-your-own-provider-key spend against the cap.' }),
    memberMaxUSD: usd('The most a TeamMember may set as its own limitUSD; omitted means members may not exceed limitUSD').optional(),
  })
  .meta({
    description: 'The budget every member key of this tier gets.',
    ...cel({ rule: '!has(self.limitUSD) || !has(self.memberMaxUSD) || self.memberMaxUSD >= self.limitUSD', message: 'memberMaxUSD must be at least limitUSD', fieldPath: '.memberMaxUSD' }),
  });

/** A pooled cap per window, narrower windows lower: OpenRouter refuses a workspace budget otherwise. */
const POOL_WINDOWS = ['daily', 'weekly', 'monthly', 'lifetime'] as const;
// (a CEL rule too: the API server checks a fractional minimum against a whole number as if it were 0)
const poolUsd = (what: string) => z.number().min(0.01).max(1_000_000).meta({ description: `${what}, in USD (0.01 to 1,000,000).`, ...cel({ rule: 'self >= 0.01', message: 'a pool window is at least 0.01 USD' }) });
export type PoolWindow = (typeof POOL_WINDOWS)[number];
const POOL_ORDER: [PoolWindow, PoolWindow][] = [['daily', 'weekly'], ['daily', 'monthly'], ['daily', 'lifetime'], ['weekly', 'monthly'], ['weekly', 'lifetime'], ['monthly', 'lifetime']];

export const Pool = z
  .object({
    daily: poolUsd('Pooled cap per UTC day for all member keys of the policy together').optional(),
    weekly: poolUsd('Pooled cap per week (from Monday, UTC)').optional(),
    monthly: poolUsd('Pooled cap per calendar month (UTC)').optional(),
    lifetime: poolUsd('Pooled cap for all time').optional(),
    includeByok: z.boolean().default(false).meta({ description: 'Count bring-your-own-provider-key spend against the pool.' }),
  })
  .meta({
    description: "A team's pooled budget, enforced by OpenRouter as the budgets of the policy's workspace (checked before each key's own limit; the narrowest window refuses first). Without spec.workspace, the operator creates and owns a workspace for the policy.",
    ...cel(
      { rule: 'has(self.daily) || has(self.weekly) || has(self.monthly) || has(self.lifetime)', message: 'pool needs at least one of daily, weekly, monthly, lifetime' },
      ...POOL_ORDER.map(([narrow, wide]) => ({ rule: `!has(self.${narrow}) || !has(self.${wide}) || self.${narrow} < self.${wide}`, message: `pool.${narrow} must be less than pool.${wide} (OpenRouter's rule: narrower windows lower)`, fieldPath: `.${narrow}` })),
    ),
  });
export type Pool = z.infer<typeof Pool>;
export const POOL_WINDOW_NAMES = POOL_WINDOWS;

export const SecretKeys = z
  .object({
    apiKey: z.string().regex(/^[-._a-zA-Z0-9]+$/).max(253).default('OPENROUTER_API_KEY').meta({ description: 'Secret data key holding the API key.' }),
    baseURL: z.string().regex(/^[-._a-zA-Z0-9]+$/).max(253).default('OPENROUTER_BASE_URL').meta({ description: 'Secret data key holding the OpenRouter base URL.' }),
    title: z.string().regex(/^[-._a-zA-Z0-9]+$/).max(253).default('OPENROUTER_APP_TITLE').meta({ description: 'Secret data key holding the X-Title attribution value (written only when attribution.title is set).' }),
    referer: z.string().regex(/^[-._a-zA-Z0-9]+$/).max(253).default('OPENROUTER_HTTP_REFERER').meta({ description: 'Secret data key holding the HTTP-Referer attribution value (written only when attribution.referer is set).' }),
  })
  .meta({
    description: 'Names of the data keys in the generated Secret.',
    ...cel({ rule: '[self.apiKey, self.baseURL, self.title, self.referer].all(k, [self.apiKey, self.baseURL, self.title, self.referer].exists_one(j, j == k))', message: 'Secret data key names must be distinct' }),
  });

/** Kubernetes qualified names (label and annotation keys): an optional DNS-subdomain prefix and a name of at most 63. */
const QUALIFIED_NAME = '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$';
const LABEL_VALUE = '^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$';
const metadataMap = (what: 'label' | 'annotation', description: string) => {
  // label values are checked by their pattern (at most 63, alphanumeric ends); keys by CEL, as a map's keys have no schema
  const value = what === 'label' ? z.string().regex(new RegExp(LABEL_VALUE)) : z.string();
  const rules: Rule[] = [{ rule: `self.all(k, k.matches(r'${QUALIFIED_NAME}') && size(k) <= 317)`, message: `${what} keys must be qualified names such as app.example.com/team (name part: at most 63 letters, digits, '-', '_', '.')` }];
  return z.record(z.string().regex(new RegExp(QUALIFIED_NAME)).max(317), value).meta({ description, maxProperties: 64, ...cel(...rules) });
};

const SecretTemplate = z
  .object({
    labels: metadataMap('label', 'Extra labels on every generated Secret.').optional(),
    annotations: metadataMap('annotation', 'Extra annotations on every generated Secret (e.g. for Reloader).').optional(),
    keys: SecretKeys.optional(),
    attribution: z
      .object({
        title: z.string().max(200).optional().meta({ description: 'X-Title value for apps to send; {{member}} and {{namespace}} are replaced.' }),
        referer: z.string().max(500).optional().meta({ description: 'HTTP-Referer value for apps to send; {{member}} and {{namespace}} are replaced.' }),
      })
      .optional()
      .meta({ description: 'OpenRouter app-attribution values written into the Secret.' }),
  })
  .meta({ description: 'Shape of the Secret each member gets.' });

export const UsageSettings = z
  .object({
    syncInterval: duration('usage.syncInterval').default('5m').meta({
      description: 'How often spend is read from OpenRouter (one list call per 100 keys). At least 30s.',
      ...cel({ rule: "duration(self) >= duration('30s')", message: 'syncInterval must be at least 30s' }),
    }),
    warnAtPercent: z.int().min(1).max(100).default(80).meta({ description: 'Warn (Event BudgetWarning) when a member has spent this share of its limit.' }),
  })
  .meta({ description: 'Usage reporting.' });

/** The most previous keys status may list (the CRD's bound); a policy's rotation.historyLimit picks up to this. */
export const PREVIOUS_KEYS_MAX = 20;

export const Rotation = z
  .object({
    every: duration('rotation.every').optional().meta({
      description: 'Rotate each member key this long after it was issued (e.g. 2160h for 90 days), spread over the last tenth of the period (at most 24h) per member. Omitted: rotate only on demand (annotation teamkeys.dev/rotate). 1h to 8760h.',
      ...cel({ rule: "duration(self) >= duration('1h') && duration(self) <= duration('8760h')", message: 'rotation.every must be between 1h and 8760h' }),
    }),
    overlap: duration('rotation.overlap').default('10m').meta({
      description: 'How long the previous key keeps working after the Secret holds the new one: the most the operator waits for opted-in workloads to roll out. 0s to 720h.',
      ...cel({ rule: "duration(self) <= duration('720h')", message: 'rotation.overlap must be at most 720h' }),
    }),
    overlapAllowancePercent: z.int().min(0).max(50).default(5).meta({
      description: "What the previous key may still spend during the overlap, as a share of the member's limit; the new key's limit is reduced by it until the previous key retires and the unspent part is given back. Too small and requests still in flight on the old key fail.",
    }),
    historyLimit: z.int().min(1).max(PREVIOUS_KEYS_MAX).default(5).meta({
      description: `How many keys rotated away from status.previousKeys lists (1 to ${PREVIOUS_KEYS_MAX}), applied at the next rotation: deleted keys leave the list first, then the oldest. A key dropped from the list that still exists is revoked by the sweep (released keys aside).`,
    }),
    retainDisabled: duration('rotation.retainDisabled').default('1h').meta({
      description: 'How long a retired key is kept disabled before it is deleted (deletionPolicy Delete; with Disable or Retain it is kept disabled). At most 720h.',
      ...cel({ rule: "duration(self) <= duration('720h')", message: 'rotation.retainDisabled must be at most 720h' }),
    }),
  })
  .meta({
    description: 'Key rotation: scheduled (every) and on demand (kubectl annotate tm NAME teamkeys.dev/rotate=<new value>), with an overlap during which the previous key still works, without a second budget.',
    ...cel({ rule: "!has(self.every) || duration(self.every) > duration(self.overlap)", message: 'rotation.every must be longer than rotation.overlap', fieldPath: '.every' }),
  });
export type Rotation = z.infer<typeof Rotation>;

/** OpenRouter model ids (author/model, optional :variant, optional ~ for a moving alias) and provider slugs. */
export const MODEL_SLUG = /^~?[a-z0-9][a-z0-9._-]*\/[a-z0-9][a-z0-9._:-]*$/;
export const PROVIDER_SLUG = /^[a-z0-9][a-z0-9._-]*$/;
/** The most entries one allow or deny list may hold. */
export const SLUG_LIST_MAX = 100;

const slugList = (what: string, pattern: RegExp, example: string, description: string) =>
  z
    .array(z.string().regex(pattern, `${what} entries must be slugs such as ${example}`).max(200))
    .min(1, `${what} must not be empty when present (omit it instead)`)
    .max(SLUG_LIST_MAX)
    .meta({ description, 'x-kubernetes-list-type': 'set' });

const allowDeny = (field: string, pattern: RegExp, example: string, allowWhat: string, denyWhat: string) =>
  z
    .object({
      allow: slugList(`${field}.allow`, pattern, example, allowWhat).optional(),
      deny: slugList(`${field}.deny`, pattern, example, denyWhat).optional(),
    })
    .meta({
      ...cel(
        { rule: 'has(self.allow) || has(self.deny)', message: `${field} needs allow, deny or both` },
        { rule: '!has(self.allow) || !has(self.deny) || !self.allow.exists(m, m in self.deny)', message: `${field}: an entry cannot be both allowed and denied`, fieldPath: '.deny' },
      ),
    });

const Models = allowDeny('models', MODEL_SLUG, 'openai/gpt-4o-mini', 'Only these models may be called with member keys (OpenRouter ids such as openai/gpt-4o-mini). Omitted: every model the account allows.', 'These models may never be called with member keys.')
  .meta({ description: 'Which models member keys may call, enforced by OpenRouter through a guardrail the operator owns for this policy.' });
const Providers = allowDeny('providers', PROVIDER_SLUG, 'openai', 'Only these providers may serve requests (slugs such as openai, anthropic, deepinfra). Omitted: any provider.', 'These providers may never serve requests.')
  .meta({ description: 'Which providers may serve member requests, enforced by OpenRouter through the policy guardrail.' });

const Inactivity = z
  .object({
    disableAfter: duration('inactivity.disableAfter').meta({
      description: 'Disable a member key that has spent nothing for this long (e.g. 720h). It comes back with kubectl annotate tm NAME teamkeys.dev/reactivate=<new value>. 1h to 8760h.',
      ...cel({ rule: "duration(self) >= duration('1h') && duration(self) <= duration('8760h')", message: 'inactivity.disableAfter must be between 1h and 8760h' }),
    }),
    deleteAfter: duration('inactivity.deleteAfter').optional().meta({
      description: 'Also delete the key at OpenRouter once it has spent nothing for this long (counted like disableAfter, so longer than it). Reactivating then issues a new key. Omitted: a disabled key is kept.',
      ...cel({ rule: "duration(self) <= duration('17520h')", message: 'inactivity.deleteAfter must be at most 17520h' }),
    }),
  })
  .meta({
    description: 'No key left idle: keys that spent nothing for a while are disabled (and optionally deleted).',
    ...cel({ rule: '!has(self.deleteAfter) || duration(self.deleteAfter) > duration(self.disableAfter)', message: 'inactivity.deleteAfter must be longer than disableAfter', fieldPath: '.deleteAfter' }),
  });
export type Inactivity = z.infer<typeof Inactivity>;

/** The policy's rotation overlap in CEL, its default when rotation is omitted (a nested default applies only under its parent). */
const OVERLAP = "(has(self.rotation) && has(self.rotation.overlap) ? duration(self.rotation.overlap) : duration('10m'))";

export const KeyPolicySpec = z
  .object({
    budget: Budget.optional(),
    keyTTL: duration('keyTTL').optional().meta({
      description: 'expires_at of every key, counted from its creation: a safety net for anything the operator loses track of. A key is renewed renewBefore ahead of it, so it never expires under a member still valid. Omitted: keys do not expire.',
      ...cel({ rule: "duration(self) >= duration('1h')", message: 'keyTTL must be at least 1h' }),
    }),
    renewBefore: duration('renewBefore').optional().meta({
      description: 'With keyTTL: how long before a key expires it is replaced by the usual rotation (overlap and budget continuity), moved earlier per member by up to a tenth of it (at most 24h) so members do not renew together. Default: a third of keyTTL. At most half of keyTTL, and longer than rotation.overlap.',
      ...cel({ rule: "duration(self) >= duration('1m')", message: 'renewBefore must be at least 1m' }),
    }),
    namespaceSelector: LabelSelector.optional(),
    secretTemplate: SecretTemplate.optional(),
    deletionPolicy: DeletionPolicy.default('Delete').meta({ description: "What happens to a member's OpenRouter key when its TeamMember is deleted: Delete, Disable or Retain." }),
    onDisabledOutside: DisabledOutsidePolicy.default('Replace').meta({
      description: 'A key disabled outside teamkeys (the dashboard\'s emergency stop) is treated as leaked and never switched back on. Replace: issue a new key into the Secret and delete the disabled one. Respect: leave the member without a working key (Ready=False, DisabledOutside) until someone re-enables the key at OpenRouter or deletes the Secret.',
    }),
    usage: UsageSettings.optional(),
    rotation: Rotation.optional(),
    models: Models.optional(),
    providers: Providers.optional(),
    zeroDataRetention: z.boolean().optional().meta({ description: 'true: route member requests only to endpoints that retain no data (zero data retention), for every provider group. Enforced by OpenRouter through the policy guardrail. Default false.' }),
    inactivity: Inactivity.optional(),
    workspace: z.string().min(1).max(100).optional().meta({ description: "OpenRouter workspace (slug or id) the keys are created in. Omitted: the default workspace, or with a pool a workspace the operator creates and owns for the policy. Changing it moves every member's key there by a rotation (overlap and budget continuity)." }),
    pool: Pool.optional(),
  })
  .meta({
    description: 'A tier: the budget, lifetime, Secret shape and allowed namespaces for every TeamMember that names it.',
    ...cel(
      // at most half: a renewal always falls in the key's second half, so keys can never be replaced in a loop
      { rule: '!has(self.renewBefore) || (has(self.keyTTL) && duration(self.renewBefore) + duration(self.renewBefore) <= duration(self.keyTTL))', message: 'renewBefore needs keyTTL and must be at most half of it', fieldPath: '.renewBefore' },
      // the previous key must outlive its overlap: renewal starts at least the overlap before the expiry
      { rule: `!has(self.keyTTL) || (has(self.renewBefore) ? duration(self.renewBefore) > ${OVERLAP} : ${OVERLAP} + ${OVERLAP} + ${OVERLAP} < duration(self.keyTTL))`, message: 'rotation.overlap (default 10m) must be shorter than renewBefore (default: a third of keyTTL), so a previous key does not expire while it drains', fieldPath: '.rotation.overlap' },
    ),
  });
export type KeyPolicySpec = z.infer<typeof KeyPolicySpec>;

/** No C0 or C1 control characters; the same source is valid in JavaScript and in the API server's RE2. */
// oxlint-disable-next-line no-control-regex -- control characters are what it refuses
const PRINTABLE = /^[^\x00-\x1F\x7F-\x9F]*$/;
const SECRET_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * RFC 3339 date-time with any offset. The CRD carries this pattern next to format: date-time, so the API server
 * admits exactly what the operator reads (the format alone also lets odd forms through that Date.parse refuses).
 */
const RFC3339 = /^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$/;
const dateTime = (what: string) => z.string().regex(RFC3339, `${what} must be an RFC 3339 time such as 2026-12-31T18:00:00Z or 2026-12-31T18:00:00+02:00`).meta({ format: 'date-time' });

export const TeamMemberSpec = z
  .object({
    policy: z.string().min(1).max(253).regex(SECRET_NAME, 'policy must be the name of a KeyPolicy (a DNS subdomain name such as engineering-gold)').meta({ description: 'Name of the KeyPolicy (tier) this member uses.' }),
    // printed by `teamkeys report` in an admin's terminal: no control characters (escape sequences)
    displayName: z.string().max(200).regex(PRINTABLE, 'displayName must not contain control characters').optional().meta({ description: 'Human name, for reports.' }),
    email: z.email().max(320).optional().meta({ description: 'Contact address, for reports and budget alerts.' }),
    limitUSD: usd("This member's own cap per window, instead of the policy's limitUSD; at most the policy's memberMaxUSD").optional(),
    suspended: z.boolean().default(false).meta({ description: 'true disables the key at OpenRouter now; false re-enables it.' }),
    expiresAt: dateTime('expiresAt').optional().meta({ description: 'Hard end (RFC 3339, any offset, e.g. 2026-12-31T18:00:00+02:00): the key stops working at this instant, e.g. the end of a workshop.' }),
    secretName: z.string().regex(SECRET_NAME, 'secretName must be a DNS subdomain name').max(253).optional().meta({
      description: 'Name of the generated Secret in this namespace. Default: <name>-openrouter. Immutable.',
    }),
  })
  .meta({
    description: 'One person (or workload) who gets their own OpenRouter key, written to a Secret in this namespace.',
    ...cel({ rule: '(has(self.secretName) == has(oldSelf.secretName)) && (!has(self.secretName) || self.secretName == oldSelf.secretName)', message: 'secretName is immutable: delete and re-create the TeamMember to move its Secret' }),
  });
export type TeamMemberSpec = z.infer<typeof TeamMemberSpec>;

/** Rules on the whole TeamMember object (CEL may read metadata.name there). */
export const TEAMMEMBER_RULES: Rule[] = [
  { rule: 'size(self.metadata.name) <= 63', message: 'metadata.name: TeamMember names are at most 63 characters (the name labels its Secret)' },
];

// --- status -------------------------------------------------------------------------------------------------

/** How many conditions a status keeps (members use 7 types, policies 2): room for types of other versions. */
export const CONDITIONS_MAX = 16;

export const Condition = z.object({
  type: z.string().max(316),
  status: z.enum(['True', 'False', 'Unknown']),
  reason: z.string().max(1024),
  message: z.string().max(32768),
  lastTransitionTime: z.string(),
  observedGeneration: z.int().min(0).optional(),
});
export type Condition = z.infer<typeof Condition>;

const KeyRef = z.object({
  hash: z.string().meta({ description: 'OpenRouter key hash (its id, not a secret).' }),
  name: z.string().meta({ description: 'Key name at OpenRouter; encodes cluster, namespace, member and UID.' }),
  label: z.string().meta({ description: "OpenRouter's masked preview of the key." }),
  createdAt: z.string().meta({ description: "When OpenRouter created the key, on OpenRouter's clock." }),
  issuedAt: z.string().optional().meta({ description: "When the operator asked for the key, on the operator's clock: what its expiresAt and rotation schedule are measured from (the two clocks are never compared)." }),
  expiresAt: z.string().optional(),
  disabled: z.boolean(),
  limitUSD: z.number().optional().meta({ description: 'Limit last applied by the operator; omitted = no cap.' }),
  workspaceId: z.string().optional().meta({ description: 'The workspace OpenRouter created the key in (recorded for keys issued since workspaces can move).' }),
  reset: ResetPeriod.meta({ description: 'Reset last applied by the operator.' }),
  includeByok: z.boolean(),
  disabledOutside: z.boolean().optional().meta({ description: 'The key was disabled outside teamkeys and the policy respects that: the operator never re-enables it.' }),
});
export type KeyRef = z.infer<typeof KeyRef>;

export const RotationTrigger = z.enum(['Scheduled', 'Requested', 'Compromised', 'Renewal', 'WorkspaceMoved']);
export type RotationTrigger = z.infer<typeof RotationTrigger>;

const PreviousKey = z.object({
  hash: z.string(),
  name: z.string(),
  label: z.string(),
  state: z.enum(['Draining', 'Disabled', 'Deleted']),
  rotatedAt: z.string(),
  retireAt: z.string().meta({ description: 'When the key is disabled at the latest (the end of the overlap).' }),
  deleteAt: z.string().optional(),
  window: z.string().meta({ description: 'The budget window the rotation happened in (its start, or "never").' }),
  spentUSD: z.number().meta({ description: 'What the key had spent in that window when it was rotated away from.' }),
  allowanceUSD: z.number().meta({ description: 'What it may still spend while Draining (see rotation.overlapAllowancePercent).' }),
  totalUSD: z.number().optional().meta({ description: 'Its lifetime spend when it was rotated away from: what it spends during the overlap is measured from here, whichever window OpenRouter counts it in.' }),
});
export type PreviousKey = z.infer<typeof PreviousKey>;

/** How many replaced keys status.budget.retiredKeys keeps (older ones are merged by UTC day, then folded). */
export const RETIRED_KEYS_MAX = 64;

/** How many models status.usage.models and a policy's status.spendByModel keep. */
export const TOP_MODELS_MAX = 5;
export const POLICY_MODELS_MAX = 10;
/** How many days status.usage.days keeps. */
export const USAGE_DAYS_MAX = 31;

const ModelSpend = z.object({
  model: z.string().max(200),
  usd: z.number(),
  requests: z.int().min(0),
});
export type ModelSpend = z.infer<typeof ModelSpend>;

const DaySpend = z.object({
  date: z.string().regex(/^[0-9]{4}-[0-9]{2}-[0-9]{2}$/).meta({ description: 'UTC day, YYYY-MM-DD.' }),
  usd: z.number(),
  requests: z.int().min(0),
});
export type DaySpend = z.infer<typeof DaySpend>;

export const TeamMemberStatus = z.object({
  observedGeneration: z.int().min(0).optional(),
  operator: z.string().max(253).optional().meta({ description: 'The id of the operator that manages this member (see --cluster-id): it alone offboards the member, even after its namespace left that operator\'s --namespace-selector.' }),
  conditions: z.array(Condition).max(CONDITIONS_MAX).optional(),
  secretName: z.string().optional(),
  key: KeyRef.optional().meta({ description: 'The active key. Its string lives only in the Secret.' }),
  pendingKey: z.object({
    name: z.string(),
    since: z.string().meta({ description: "When the intent was recorded, on the operator's clock: the new key's expiry is measured from it." }),
    guardrail: z.string().optional().meta({ description: 'The guardrail the new key is assigned to before its Secret is written.' }),
    rotation: z.object({ trigger: RotationTrigger, request: z.string().optional(), from: z.string() }).optional().meta({
      description: 'Set when the key being created rotates the active one (from): what asked for it.',
    }),
  }).optional().meta({
    description: 'A key creation in flight, recorded before the create call so a crash cannot lose the key.',
  }),
  rotation: z.object({
    count: z.int().min(0),
    lastRotatedAt: z.string().optional(),
    lastTrigger: RotationTrigger.optional(),
    lastRequest: z.string().optional().meta({ description: 'The teamkeys.dev/rotate annotation value last acted on.' }),
    nextRotationAt: z.string().optional().meta({ description: 'When the key next rotates by time: the schedule (policy rotation.every) or its renewal ahead of expiry (keyTTL, renewBefore), whichever is first.' }),
  }).optional(),
  previousKeys: z.array(PreviousKey).max(PREVIOUS_KEYS_MAX).optional().meta({
    description: 'Keys this member rotated away from, newest last: Draining (still works until retireAt), Disabled, Deleted.',
  }),
  activity: z.object({
    lastSpendAt: z.string().meta({ description: 'When spend last moved (or the key was issued, or the member was reactivated): what spec.inactivity counts from.' }),
    keyHash: z.string().meta({ description: 'The key whose lifetime spend was last seen.' }),
    lifetimeUSD: z.number().meta({ description: 'Its lifetime spend then, BYOK included.' }),
    reactivation: z.string().optional().meta({ description: 'The teamkeys.dev/reactivate annotation value last acted on.' }),
  }).optional().meta({ description: 'Spend activity, from the key list the operator reads anyway (no extra calls).' }),
  inactive: z.object({
    since: z.string(),
    keyDeleted: z.boolean().meta({ description: 'The key was deleted too (inactivity.deleteAfter); reactivating issues a new one.' }),
    generation: z.int().min(0).optional().meta({ description: 'The member generation it was switched off at: a later spec change reactivates it.' }),
  }).optional().meta({ description: 'Set while the key is disabled for inactivity (policy spec.inactivity).' }),
  keySeq: z.int().min(0).optional().meta({ description: 'How many keys this member has had; part of each key name.' }),
  budget: z
    .object({
      limitUSD: z.number().optional(),
      remainingUSD: z.number().optional(),
      reset: ResetPeriod,
      carriedUSD: z.number().optional().meta({
        description: 'Spend of keys replaced during the current window; the active key\'s limit is reduced by it, so a replacement never hands out a second budget.',
      }),
      carriedWindow: z.string().optional().meta({ description: 'The window carriedUSD belongs to (its start, or "never").' }),
      retiredKeys: z
        .array(z.object({
          hash: z.string(),
          retiredAt: z.string(),
          usage: z.object({ daily: z.number(), weekly: z.number(), monthly: z.number(), total: z.number() }),
          byok: z.object({ daily: z.number(), weekly: z.number(), monthly: z.number(), total: z.number() }),
          overlapUSD: z.number().optional().meta({ description: "What it spent during a rotation overlap: also counted in the window after its retirement when that came soon after, since OpenRouter's window may have turned before the operator's." }),
        }))
        .max(RETIRED_KEYS_MAX)
        .optional()
        .meta({ description: 'Replaced keys and their spend per UTC window when they retired (older than a month: folded into one lifetime total). carriedUSD is computed from them for the current reset period.' }),
    })
    .optional(),
  usage: z
    .object({
      windowUSD: z.number().meta({ description: 'Spend in the current reset window (what counts against the limit).' }),
      dailyUSD: z.number(),
      weeklyUSD: z.number(),
      monthlyUSD: z.number(),
      byokUSD: z.number(),
      lifetimeUSD: z.number().meta({ description: 'All-time spend of the current key, BYOK included.' }),
      observedAt: z.string(),
      requests: z.int().min(0).optional().meta({ description: 'Requests in the current reset window, every key of this member (OpenRouter analytics).' }),
      models: z.array(ModelSpend).max(TOP_MODELS_MAX).optional().meta({ description: `The top ${TOP_MODELS_MAX} models of the current reset window by spend, every key of this member (OpenRouter analytics).` }),
      days: z.array(DaySpend).max(USAGE_DAYS_MAX).optional().meta({ description: `Spend and requests per UTC day, the last ${USAGE_DAYS_MAX} days, oldest first; days without requests are left out (what teamkeys report --since reads).` }),
      analyzedAt: z.string().optional().meta({ description: 'When requests, models and days were last read from OpenRouter analytics.' }),
      forecast: z.object({
        burnUSDPerDay: z.number().meta({ description: 'Spend per day so far in the current reset window (over at least one hour).' }),
        projectedUSD: z.number().optional().meta({ description: 'What the window will have cost at its end at that rate (absent for reset never).' }),
        exhaustsAt: z.string().optional().meta({ description: 'When the limit runs out at that rate; absent when it does not before the window ends (or there is no limit).' }),
      }).optional().meta({ description: 'The burn-rate forecast behind the BudgetForecast condition.' }),
    })
    .optional(),
});
export type TeamMemberStatus = z.infer<typeof TeamMemberStatus>;

const Lists = z.object({ allow: z.array(z.string()).optional(), deny: z.array(z.string()).optional() });

export const GuardrailStatus = z.object({
  id: z.string().meta({ description: 'The OpenRouter guardrail the operator owns for this policy.' }),
  name: z.string(),
  applied: z.string().meta({ description: 'Fingerprint of the spec last applied to the guardrail.' }),
  models: Lists.optional().meta({ description: 'The model lists as OpenRouter reports them (canonical ids).' }),
  providers: Lists.optional().meta({ description: 'The provider lists as OpenRouter reports them.' }),
  zeroDataRetention: z.boolean(),
  assignedKeys: z.int().min(0).meta({ description: "Member keys assigned to the guardrail (active and draining)." }),
  keys: z.int().min(0).meta({ description: "Member keys that should be assigned." }),
  lastDrift: z.object({ at: z.string(), what: z.string().max(2000) }).optional().meta({ description: 'The last change made outside teamkeys that the operator corrected.' }),
});
export type GuardrailStatus = z.infer<typeof GuardrailStatus>;

/** How many operators' entries a policy's status.operators holds (operators sharding one cluster). */
export const POLICY_OPERATORS_MAX = 16;
/** How much of an operator's --namespace-selector its entry shows. */
export const POLICY_SELECTOR_MAX = 1024;

export const PolicyOperatorStatus = z.object({
  namespaceSelector: z.string().max(POLICY_SELECTOR_MAX).optional().meta({ description: "The operator's --namespace-selector (absent: it manages every namespace)." }),
  members: z.int().min(0).meta({ description: 'Members using the policy in the namespaces this operator manages.' }),
  guardrail: GuardrailStatus.optional().meta({ description: "This operator's guardrail for the policy (named teamkeys/<operator id>/<policy>), holding its members' keys." }),
  guardrailSynced: Condition.optional().meta({ description: "This operator's GuardrailSynced condition; the policy's own condition sums up every operator's." }),
});
export type PolicyOperatorStatus = z.infer<typeof PolicyOperatorStatus>;

/** How many workspaces a policy left are kept in view until their keys are gone. */
export const FORMER_WORKSPACES_MAX = 8;

const PolicyWorkspace = z.object({
  ref: z.string().meta({ description: 'The workspace as the policy names it (spec.workspace, or the slug of the one the operator owns).' }),
  id: z.string(),
  owned: z.boolean().meta({ description: 'true: the operator created it for this policy, and deletes it once it holds no key.' }),
});
export type PolicyWorkspace = z.infer<typeof PolicyWorkspace>;

export const PoolWindowStatus = z.object({
  window: z.enum(POOL_WINDOWS),
  limitUSD: z.number(),
  spendUSD: z.number().meta({ description: "The members' spend in the window, as their statuses report it (OpenRouter's own count, which it enforces, also includes keys deleted meanwhile)." }),
  remainingUSD: z.number(),
});

export const PoolStatus = z.object({
  includeByok: z.boolean(),
  windows: z.array(PoolWindowStatus).max(4),
  shown: z.string().max(64).meta({ description: 'The tightest window in short (the POOL column), e.g. "12.40/20 monthly".' }),
  refusesFirst: z.enum(['Pool', 'Members']).meta({ description: "Which layer refuses first: Pool when the members' own remaining limits add up to more than the pool has left (the narrowest window), else Members." }),
});
export type PoolStatus = z.infer<typeof PoolStatus>;

export const KeyPolicyStatus = z.object({
  observedGeneration: z.int().min(0).optional(),
  conditions: z.array(Condition).max(CONDITIONS_MAX).optional(),
  members: z.int().min(0).optional(),
  readyMembers: z.int().min(0).optional(),
  spendThisWindowUSD: z.number().optional(),
  requestsThisWindow: z.int().min(0).optional().meta({ description: "Requests of the policy's members in their current windows (OpenRouter analytics)." }),
  spendByModel: z.array(ModelSpend).max(POLICY_MODELS_MAX).optional().meta({ description: `The top ${POLICY_MODELS_MAX} models by spend of the policy's members in their current windows.` }),
  forecastExhausting: z.int().min(0).optional().meta({ description: 'Members whose budget is forecast to run out before their window resets (BudgetForecast=True).' }),
  models: z.string().optional().meta({ description: 'What member keys may call, in short (the MODELS column): "all", the allowed ids, or how many.' }),
  guardrail: GuardrailStatus.optional().meta({ description: 'The guardrail that enforces spec.models, spec.providers and spec.zeroDataRetention, while one operator serves the policy (see operators).' }),
  operators: z.record(z.string(), PolicyOperatorStatus).optional().meta({
    maxProperties: POLICY_OPERATORS_MAX,
    description: `Per operator serving the policy, by operator id (operators sharding a cluster with --namespace-selector each keep their own guardrail and write only their own entry); at most ${POLICY_OPERATORS_MAX}.`,
  }),
  inactivity: z.object({
    disabled: z.int().min(0).meta({ description: 'Members whose key is disabled for inactivity.' }),
    deleted: z.int().min(0).meta({ description: 'Of those, members whose key was also deleted.' }),
    members: z.array(z.string()).max(20).meta({ description: 'The first of them, as namespace/name.' }),
  }).optional().meta({ description: 'What spec.inactivity reaped.' }),
  pool: PoolStatus.optional().meta({ description: "The pooled budget (spec.pool) as set on the workspace, with the members' spend per window." }),
  workspace: PolicyWorkspace.optional().meta({ description: 'The workspace member keys are created in (absent: the default workspace).' }),
  formerWorkspaces: z.array(PolicyWorkspace).max(FORMER_WORKSPACES_MAX).optional().meta({
    description: "Workspaces the policy's keys were in before spec.workspace or spec.pool moved them: kept in view until they hold no key of this operator (an owned one is then deleted).",
  }),
});
export type KeyPolicyStatus = z.infer<typeof KeyPolicyStatus>;

export interface ObjectMeta {
  name: string;
  namespace?: string | undefined;
  uid: string;
  generation?: number | undefined;
  resourceVersion?: string | undefined;
  labels?: Record<string, string> | undefined;
  annotations?: Record<string, string> | undefined;
  finalizers?: string[] | undefined;
  deletionTimestamp?: string | Date | undefined;
  creationTimestamp?: string | Date | undefined;
}

export interface TeamMember {
  apiVersion: string;
  kind: 'TeamMember';
  metadata: ObjectMeta;
  spec: TeamMemberSpec;
  status?: TeamMemberStatus | undefined;
}

export interface KeyPolicy {
  apiVersion: string;
  kind: 'KeyPolicy';
  metadata: ObjectMeta;
  spec: KeyPolicySpec;
  status?: KeyPolicyStatus | undefined;
}

export const FINALIZER = 'teamkeys.dev/revoke-key';
/** On a KeyPolicy while TeamMembers use it: a deletion waits until they are gone. */
export const POLICY_FINALIZER = 'teamkeys.dev/in-use';
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const LABEL_MEMBER = 'teamkeys.dev/member';
export const ANNOTATION_KEY_HASH = 'teamkeys.dev/key-hash';
export const ANNOTATION_KEY_HMAC = 'teamkeys.dev/key-hmac';
/** On a Secret written with a new key: when the operator asked for that key (its clock), for a crash's recovery. */
export const ANNOTATION_ISSUED_AT = 'teamkeys.dev/issued-at';
/** On a TeamMember: any new value rotates its key once. */
export const ANNOTATION_ROTATE = 'teamkeys.dev/rotate';
/** On a TeamMember: any new value brings back a key disabled for inactivity. */
export const ANNOTATION_REACTIVATE = 'teamkeys.dev/reactivate';
/** On a TeamMember or a KeyPolicy: "true" pauses its reconcile (a policy's, its members' too); deletion still offboards. */
export const ANNOTATION_PAUSED = 'teamkeys.dev/paused';
export const MANAGER = 'teamkeys';

/** The Secret a member's key is written to: spec.secretName, else `<member>-openrouter`. */
export function memberSecretName(member: string, secretName: string | undefined): string {
  return secretName ?? `${member}-openrouter`;
}
