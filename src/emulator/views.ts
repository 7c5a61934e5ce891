import {
  DEFAULT_WORKSPACE_ID, type AssignmentRecord, type BudgetInterval, type BudgetRecord, type EmulatorState, type GuardrailRecord, type KeyRecord, type Workspace,
} from './state.ts';
import { limitRemaining, windowsOf } from './usage.ts';

/** Wire shapes, exactly as OpenRouter's management API returns them (snake_case). */
export function keyView(k: KeyRecord, now: number): Record<string, unknown> {
  const w = windowsOf(k, now);
  return {
    hash: k.hash,
    name: k.name,
    label: k.label,
    disabled: k.disabled,
    limit: k.limit,
    limit_remaining: limitRemaining(k, now),
    limit_reset: k.limitReset,
    include_byok_in_limit: k.includeByokInLimit,
    usage: k.usage,
    usage_daily: w.daily,
    usage_weekly: w.weekly,
    usage_monthly: w.monthly,
    byok_usage: k.byokUsage,
    byok_usage_daily: w.byokDaily,
    byok_usage_weekly: w.byokWeekly,
    byok_usage_monthly: w.byokMonthly,
    created_at: k.createdAt,
    updated_at: k.updatedAt,
    expires_at: k.expiresAt,
    creator_user_id: k.creatorUserId,
    workspace_id: k.workspaceId,
    external_user: k.externalUser,
  };
}

export function currentKeyView(k: KeyRecord, s: EmulatorState, now: number): Record<string, unknown> {
  const full = keyView(k, now);
  return {
    label: k.label,
    limit: full['limit'],
    limit_remaining: full['limit_remaining'],
    limit_reset: full['limit_reset'],
    include_byok_in_limit: full['include_byok_in_limit'],
    usage: full['usage'],
    usage_daily: full['usage_daily'],
    usage_weekly: full['usage_weekly'],
    usage_monthly: full['usage_monthly'],
    byok_usage: full['byok_usage'],
    byok_usage_daily: full['byok_usage_daily'],
    byok_usage_weekly: full['byok_usage_weekly'],
    byok_usage_monthly: full['byok_usage_monthly'],
    is_free_tier: s.totalCredits === 0,
    is_management_key: k.management,
    is_provisioning_key: k.management,
    expires_at: k.expiresAt,
    creator_user_id: k.creatorUserId,
    rate_limit: { requests: -1, interval: '10s', note: 'This field is deprecated and safe to ignore.' },
    allowed_data_regions: ['global'],
    free_model_daily_requests: { limit: 1000, remaining: 1000, used: 0 },
    organization_id: s.organizationId,
    workspace_id: k.management ? null : k.workspaceId,
  };
}

export function guardrailView(g: GuardrailRecord): Record<string, unknown> {
  return {
    ...g.fields,
    id: g.id,
    name: g.name,
    include_byok_in_budgets: g.fields['include_byok_in_budgets'] ?? false,
    created_at: g.createdAt,
    updated_at: g.updatedAt,
    workspace_id: g.workspaceId,
  };
}

export function keyAssignmentView(a: AssignmentRecord, key: KeyRecord | undefined): Record<string, unknown> {
  return {
    id: a.id,
    key_hash: a.target,
    key_name: key?.name ?? '',
    key_label: key?.label ?? '',
    guardrail_id: a.guardrailId,
    assigned_by: a.assignedBy,
    created_at: a.createdAt,
  };
}

export function memberAssignmentView(a: AssignmentRecord, organizationId: string | null): Record<string, unknown> {
  return {
    id: a.id,
    user_id: a.target,
    organization_id: organizationId ?? '',
    guardrail_id: a.guardrailId,
    assigned_by: a.assignedBy,
    created_at: a.createdAt,
  };
}

export function workspaceView(w: Workspace, createdBy: string): Record<string, unknown> {
  return {
    id: w.id,
    default_guardrail_id: w.defaultGuardrailId,
    name: w.name,
    slug: w.slug,
    description: w.id === DEFAULT_WORKSPACE_ID ? 'Default workspace' : null,
    default_text_model: null,
    default_image_model: null,
    default_provider_sort: null,
    is_observability_io_logging_enabled: false,
    is_observability_broadcast_enabled: false,
    is_data_discount_logging_enabled: false,
    io_logging_sampling_rate: 1,
    io_logging_api_key_ids: null,
    ...w.settings,
    include_byok_in_budgets: w.includeByokInBudgets ?? false,
    created_at: w.createdAt,
    updated_at: w.updatedAt ?? null,
    created_by: createdBy,
  };
}

/** One budget; a lifetime budget's reset_interval is null. */
export function budgetView(w: Workspace, interval: BudgetInterval, b: BudgetRecord): Record<string, unknown> {
  return {
    id: b.id,
    workspace_id: w.id,
    limit_usd: b.limitUsd,
    reset_interval: interval === 'lifetime' ? null : interval,
    created_at: b.createdAt,
    updated_at: b.updatedAt,
  };
}
