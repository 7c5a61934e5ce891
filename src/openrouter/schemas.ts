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
export const Workspace = z.looseObject({ data: z.looseObject({ id: z.string(), slug: z.string() }) });
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
/** A row of the key x model x day query; analytics dimensions may come back as strings or numbers. */
export const UsageQueryRow = z.looseObject({
  api_key_id: z.union([z.string(), z.number()]).transform(String),
  model: z.union([z.string(), z.number()]).transform(String),
  date__day: z.string().regex(/^\d{4}-\d{2}-\d{2}/, 'must start with YYYY-MM-DD'),
  total_usage: z.number(),
  request_count: z.number(),
});
export const AnalyticsAnswer = z.looseObject({
  data: z.looseObject({
    data: z.array(UsageQueryRow),
    metadata: z.looseObject({ row_count: z.number(), truncated: z.boolean() }),
    warnings: z.array(z.string()).optional(),
  }),
});
