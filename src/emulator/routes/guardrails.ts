import { z } from 'zod';
import { HttpError } from '../errors.ts';
import { findModel } from '../catalog.ts';
import { ok, parse, type Route } from '../router.ts';
import type { Store } from '../store.ts';
import { guardrailView, keyAssignmentView, memberAssignmentView } from '../views.ts';
import { pageOf, pageParams } from './query.ts';

const list = z.array(z.string().min(1)).min(1).nullable().optional();
const flag = z.boolean().nullable().optional();

/** Every optional guardrail field; collections use replace semantics on PATCH. */
const GuardrailFields = z.object({
  description: z.string().max(1000).nullable().optional(),
  limit_usd: z.number().positive().nullable().optional(),
  reset_interval: z.enum(['daily', 'weekly', 'monthly']).nullable().optional(),
  include_byok_in_budgets: z.boolean().optional(),
  allowed_models: list,
  allowed_providers: list,
  ignored_models: list,
  ignored_providers: list,
  enforce_zdr: flag,
  enforce_zdr_anthropic: flag,
  enforce_zdr_openai: flag,
  enforce_zdr_google: flag,
  enforce_zdr_xai: flag,
  enforce_zdr_other: flag,
  enable_free_model_publication: flag,
  enable_free_model_training: flag,
  enable_paid_model_training: flag,
  content_filter_builtins: z
    .array(z.object({
      slug: z.enum(['email', 'phone', 'ssn', 'credit-card', 'ip-address', 'person-name', 'address', 'regex-prompt-injection']),
      action: z.enum(['redact', 'block', 'flag']),
      scan_scope: z.enum(['user_only', 'all_messages']).optional(),
    }))
    .nullable()
    .optional(),
  content_filters: z
    .array(z.object({ pattern: z.string().min(1).max(100_000), action: z.enum(['redact', 'block', 'flag']), label: z.string().optional() }))
    .nullable()
    .optional(),
});

const CreateBody = GuardrailFields.extend({ name: z.string().min(1).max(200), workspace_id: z.string().min(1).optional() });
const UpdateBody = GuardrailFields.extend({ name: z.string().min(1).max(200).optional() });
const KeyHashes = z.object({ key_hashes: z.array(z.string().min(1)).min(1) });
const MemberIds = z.object({ member_user_ids: z.array(z.string().min(1)).min(1) });

/** OpenRouter stores and returns canonical model slugs, whichever form was sent. */
function canonicalFields(input: z.infer<typeof GuardrailFields>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(input)) if (v !== undefined) out[k] = v;
  if (Array.isArray(input.allowed_models)) {
    out['allowed_models'] = input.allowed_models.map((id) => {
      const m = findModel(id);
      if (!m) throw new HttpError(400, `Invalid request parameters: allowed_models: unknown model ${id}`);
      return m.canonical;
    });
  }
  return out;
}

export function guardrailRoutes(store: Store): Route[] {
  const id = (p: Record<string, string>): string => p['id'] ?? '';
  const keyOf = (hash: string) => store.state.keys.find((k) => k.hash === hash);
  return [
    {
      method: 'GET', path: '/api/v1/guardrails', auth: 'management',
      handle: ({ url }) => {
        const { offset, limit } = pageParams(url, 100);
        const ws = store.workspace(url.searchParams.get('workspace_id') ?? undefined).id;
        const all = store.state.guardrails.filter((g) => g.workspaceId === ws);
        return ok({ data: pageOf(all, offset, limit).map(guardrailView), total_count: all.length });
      },
    },
    {
      method: 'POST', path: '/api/v1/guardrails', auth: 'management',
      handle: async (ctx) => {
        const { name, workspace_id, ...fields } = parse(CreateBody, await ctx.json());
        return ok({ data: guardrailView(store.createGuardrail(name, workspace_id, canonicalFields(fields))) }, 201);
      },
    },
    {
      method: 'GET', path: '/api/v1/guardrails/:id', auth: 'management',
      handle: ({ params }) => ok({ data: guardrailView(store.guardrail(id(params))) }),
    },
    {
      method: 'PATCH', path: '/api/v1/guardrails/:id', auth: 'management',
      handle: async (ctx) => {
        store.guardrail(id(ctx.params));
        const { name, ...fields } = parse(UpdateBody, await ctx.json());
        return ok({ data: guardrailView(store.updateGuardrail(id(ctx.params), name, canonicalFields(fields))) });
      },
    },
    {
      method: 'DELETE', path: '/api/v1/guardrails/:id', auth: 'management',
      handle: ({ params }) => {
        store.deleteGuardrail(id(params));
        return ok({ deleted: true });
      },
    },
    {
      method: 'GET', path: '/api/v1/guardrails/:id/assignments/keys', auth: 'management',
      handle: ({ params, url }) => {
        store.guardrail(id(params));
        const { offset, limit } = pageParams(url, 100);
        const all = store.state.keyAssignments.filter((a) => a.guardrailId === id(params));
        return ok({ data: pageOf(all, offset, limit).map((a) => keyAssignmentView(a, keyOf(a.target))), total_count: all.length });
      },
    },
    {
      method: 'POST', path: '/api/v1/guardrails/:id/assignments/keys', auth: 'management',
      handle: async (ctx) => {
        store.guardrail(id(ctx.params));
        const { key_hashes } = parse(KeyHashes, await ctx.json());
        return ok({ assigned_count: store.assignKeys(id(ctx.params), key_hashes) });
      },
    },
    {
      method: 'POST', path: '/api/v1/guardrails/:id/assignments/keys/remove', auth: 'management',
      handle: async (ctx) => {
        store.guardrail(id(ctx.params));
        const { key_hashes } = parse(KeyHashes, await ctx.json());
        return ok({ unassigned_count: store.unassign('keyAssignments', id(ctx.params), key_hashes) });
      },
    },
    {
      method: 'GET', path: '/api/v1/guardrails/:id/assignments/members', auth: 'management',
      handle: ({ params, url }) => {
        store.guardrail(id(params));
        const { offset, limit } = pageParams(url, 100);
        const all = store.state.memberAssignments.filter((a) => a.guardrailId === id(params));
        return ok({ data: pageOf(all, offset, limit).map((a) => memberAssignmentView(a, store.state.organizationId)), total_count: all.length });
      },
    },
    {
      method: 'POST', path: '/api/v1/guardrails/:id/assignments/members', auth: 'management',
      handle: async (ctx) => {
        store.guardrail(id(ctx.params));
        const { member_user_ids } = parse(MemberIds, await ctx.json());
        return ok({ assigned_count: store.assignMembers(id(ctx.params), member_user_ids) });
      },
    },
    {
      method: 'POST', path: '/api/v1/guardrails/:id/assignments/members/remove', auth: 'management',
      handle: async (ctx) => {
        store.guardrail(id(ctx.params));
        const { member_user_ids } = parse(MemberIds, await ctx.json());
        return ok({ unassigned_count: store.unassign('memberAssignments', id(ctx.params), member_user_ids) });
      },
    },
    {
      method: 'GET', path: '/api/v1/guardrails/assignments/keys', auth: 'management',
      handle: ({ url }) => {
        const { offset, limit } = pageParams(url, 100);
        const all = store.state.keyAssignments;
        return ok({ data: pageOf(all, offset, limit).map((a) => keyAssignmentView(a, keyOf(a.target))), total_count: all.length });
      },
    },
    {
      method: 'GET', path: '/api/v1/guardrails/assignments/members', auth: 'management',
      handle: ({ url }) => {
        const { offset, limit } = pageParams(url, 100);
        const all = store.state.memberAssignments;
        return ok({ data: pageOf(all, offset, limit).map((a) => memberAssignmentView(a, store.state.organizationId)), total_count: all.length });
      },
    },
  ];
}
