import { z } from 'zod';

/** Response shapes, loose: OpenRouter adds fields over time and clients must ignore the ones they do not know. */
export const ApiKey = z.looseObject({
  hash: z.string(),
  name: z.string(),
  label: z.string(),
  disabled: z.boolean(),
  limit: z.number().nullable(),
  limit_remaining: z.number().nullable(),
  limit_reset: z.string().nullable(),
  include_byok_in_limit: z.boolean(),
  usage: z.number(),
  usage_daily: z.number(),
  usage_weekly: z.number(),
  usage_monthly: z.number(),
  byok_usage: z.number(),
  byok_usage_daily: z.number(),
  byok_usage_weekly: z.number(),
  byok_usage_monthly: z.number(),
  created_at: z.string(),
  updated_at: z.string().nullable(),
  expires_at: z.string().nullable().optional(),
  workspace_id: z.string().optional(),
});
export type ApiKey = z.infer<typeof ApiKey>;

export const KeyEnvelope = z.looseObject({ data: ApiKey });
/** The only response that carries the key string: top-level `key` (older docs showed it inside `data`). */
export const CreatedKey = z.looseObject({ data: ApiKey.extend({ key: z.string().optional() }), key: z.string().optional() });
export const KeyList = z.looseObject({ data: z.array(ApiKey) });
export const Deleted = z.looseObject({ deleted: z.boolean() });
export const CurrentKey = z.looseObject({
  data: z.looseObject({ label: z.string(), is_management_key: z.boolean().optional(), is_provisioning_key: z.boolean().optional() }),
});
export const Workspace = z.looseObject({ data: z.looseObject({ id: z.string(), slug: z.string(), name: z.string() }) });
/** reset_interval is null for a lifetime budget; the BYOK flag is workspace-wide and optional in the answer */
const ApiWorkspaceBudget = z.looseObject({ limit_usd: z.number(), reset_interval: z.string().nullable() });
export type ApiWorkspaceBudget = z.infer<typeof ApiWorkspaceBudget>;
export const WorkspaceBudgetEnvelope = z.looseObject({ data: ApiWorkspaceBudget, include_byok_in_budgets: z.boolean().optional() });
export const WorkspaceBudgetList = z.looseObject({ data: z.array(ApiWorkspaceBudget), include_byok_in_budgets: z.boolean().optional() });
const slugs = z.array(z.string()).nullable().optional();
export const ApiGuardrail = z.looseObject({
  id: z.string(),
  name: z.string(),
  workspace_id: z.string().nullable().optional(),
  allowed_models: slugs,
  ignored_models: slugs,
  allowed_providers: slugs,
  ignored_providers: slugs,
  enforce_zdr: z.boolean().nullable().optional(),
  enforce_zdr_anthropic: z.boolean().nullable().optional(),
  enforce_zdr_openai: z.boolean().nullable().optional(),
  enforce_zdr_google: z.boolean().nullable().optional(),
  enforce_zdr_xai: z.boolean().nullable().optional(),
  enforce_zdr_other: z.boolean().nullable().optional(),
});
export type ApiGuardrail = z.infer<typeof ApiGuardrail>;
export const GuardrailEnvelope = z.looseObject({ data: ApiGuardrail });
export const GuardrailList = z.looseObject({ data: z.array(ApiGuardrail), total_count: z.number().optional() });
export const KeyAssignmentList = z.looseObject({ data: z.array(z.looseObject({ key_hash: z.string(), guardrail_id: z.string() })), total_count: z.number().optional() });
export const Assigned = z.looseObject({ assigned_count: z.number() });
export const Unassigned = z.looseObject({ unassigned_count: z.number() });
export const ErrorBody = z.looseObject({ error: z.looseObject({ code: z.number().optional(), message: z.string().optional() }) });

export type LimitReset = 'daily' | 'weekly' | 'monthly' | null;

export interface CreateKeyRequest {
  name: string;
  limit: number | null;
  limit_reset: LimitReset;
  include_byok_in_limit: boolean;
  expires_at: string | null;
  workspace_id?: string;
}

export interface UpdateKeyRequest {
  name?: string;
  disabled?: boolean;
  limit?: number | null;
  limit_reset?: LimitReset;
  include_byok_in_limit?: boolean;
}

const Named = z.looseObject({ name: z.string() });
export const AnalyticsMeta = z.looseObject({
  data: z.looseObject({ metrics: z.array(Named), dimensions: z.array(Named), granularities: z.array(Named) }),
});
/**
 * A metric as OpenRouter's analytics sends it: counts come as JSON strings ("1523"), costs as numbers, and a
 * metric with nothing to count as null (read as 0). Anything else (a word, a negative, NaN) fails the row.
 */
export const MetricValue = z.union([
  z.number().finite(),
  z.string().trim().regex(/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/, 'must be a number or a numeric string').transform(Number),
  z.null().transform(() => 0),
]).pipe(z.number().finite().min(0, 'must not be negative'));
/** A dimension's value: a label, or a number; null when the row has no value for it (an unset bucket). */
const DimensionValue = z.union([z.string(), z.number().transform(String), z.null()]);
/** The time column is `date__<granularity>` or `created_at__<granularity>`, by the data source the query resolves to. */
const DAY_COLUMNS = ['date__day', 'created_at__day'] as const;

/** A row of the key x model x day query, read tolerantly; a row this refuses is skipped, never the whole answer. */
export const UsageQueryRow = z.looseObject({
  api_key_id: DimensionValue,
  model: DimensionValue,
  date__day: z.string().optional(),
  created_at__day: z.string().optional(),
  total_usage: MetricValue,
  byok_usage: MetricValue.optional(),
  request_count: MetricValue,
}).transform((r, ctx) => {
  const day = DAY_COLUMNS.map((c) => r[c]).find((v) => v !== undefined);
  if (day === undefined || !/^\d{4}-\d{2}-\d{2}/.test(day)) {
    ctx.addIssue({ code: 'custom', message: 'needs date__day or created_at__day starting with YYYY-MM-DD', path: ['date__day'] });
    return z.NEVER;
  }
  return { key: r.api_key_id, model: r.model, date: day.slice(0, 10), usd: r.total_usage, byokUsd: r.byok_usage ?? 0, requests: r.request_count };
});
export type UsageQueryRow = z.output<typeof UsageQueryRow>;
/** The answer's envelope; its rows are parsed one by one (UsageQueryRow) so one bad row costs only itself. */
export const AnalyticsAnswer = z.looseObject({
  data: z.looseObject({
    data: z.array(z.unknown()),
    metadata: z.looseObject({ row_count: z.number(), truncated: z.boolean() }),
    warnings: z.array(z.string()).nullable().optional(),
    cachedAt: z.number().nullable().optional(),
  }),
});
