import { z } from 'zod';
import { BUDGET_INTERVALS } from '../budgets.ts';
import { ok, parse, type Route } from '../router.ts';
import type { Store } from '../store.ts';
import type { Workspace } from '../state.ts';
import { budgetView, workspaceView } from '../views.ts';
import { pageOf, pageParams } from './query.ts';

const Slug = z.string().min(1).max(50).regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, 'must be lowercase alphanumeric segments separated by single hyphens');
const Name = z.string().min(1).max(100);
const model = z.string().nullable().optional();

/** The optional settings of CreateWorkspaceRequest and UpdateWorkspaceRequest; stored and answered as sent. */
const Settings = z.object({
  description: z.string().max(500).nullable().optional(),
  default_text_model: model,
  default_image_model: model,
  default_provider_sort: model,
  io_logging_api_key_ids: z.array(z.int()).nullable().optional(),
  io_logging_sampling_rate: z.number().min(0.0001).max(1).optional(),
  is_data_discount_logging_enabled: z.boolean().optional(),
  is_observability_broadcast_enabled: z.boolean().optional(),
  is_observability_io_logging_enabled: z.boolean().optional(),
});
const CreateBody = Settings.extend({ name: Name, slug: Slug });
const UpdateBody = Settings.extend({ name: Name.optional(), slug: Slug.optional() });
const BudgetBody = z.object({ limit_usd: z.number().positive('must be greater than 0'), include_byok_in_budgets: z.boolean().optional() });
const Interval = z.enum(BUDGET_INTERVALS);

const defined = (o: Record<string, unknown>): Record<string, unknown> => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

/** Workspace CRUD and workspace budgets (GET/PUT/DELETE /workspaces/{id}/budgets/{interval}), ids or slugs alike. */
export function workspaceRoutes(store: Store): Route[] {
  const found = (p: Record<string, string>): Workspace => store.findWorkspace(p['id'] ?? '');
  const view = (w: Workspace) => workspaceView(w, store.state.userId);
  const interval = (p: Record<string, string>) => parse(z.object({ interval: Interval }), p).interval;
  const byok = (w: Workspace) => w.includeByokInBudgets ?? false;
  return [
    {
      method: 'GET', path: '/api/v1/workspaces', auth: 'management',
      handle: ({ url }) => {
        const { offset, limit } = pageParams(url, 100);
        const all = store.state.workspaces;
        return ok({ data: pageOf(all, offset, limit).map(view), total_count: all.length });
      },
    },
    {
      method: 'POST', path: '/api/v1/workspaces', auth: 'management',
      handle: async ({ json }) => {
        const { name, slug, ...settings } = parse(CreateBody, await json());
        return ok({ data: view(store.createWorkspace(name, slug, defined(settings))) }, 201);
      },
    },
    {
      method: 'GET', path: '/api/v1/workspaces/:id', auth: 'management',
      handle: ({ params }) => ok({ data: view(found(params)) }),
    },
    {
      method: 'PATCH', path: '/api/v1/workspaces/:id', auth: 'management',
      handle: async ({ params, json }) => {
        const w = found(params); // 404 before 400, as a missing resource outranks a bad body
        const { name, slug, ...settings } = parse(UpdateBody, await json());
        return ok({ data: view(store.updateWorkspace(w, { name, slug, settings: defined(settings) })) });
      },
    },
    {
      method: 'DELETE', path: '/api/v1/workspaces/:id', auth: 'management',
      handle: ({ params }) => {
        store.deleteWorkspace(found(params));
        return ok({ deleted: true });
      },
    },
    {
      method: 'GET', path: '/api/v1/workspaces/:id/budgets', auth: 'management',
      handle: ({ params }) => {
        const w = found(params);
        const data = BUDGET_INTERVALS.flatMap((i) => {
          const b = w.budgets?.[i];
          return b ? [budgetView(w, i, b)] : [];
        });
        return ok({ data, include_byok_in_budgets: byok(w) });
      },
    },
    {
      method: 'GET', path: '/api/v1/workspaces/:id/budgets/:interval', auth: 'management',
      handle: ({ params }) => {
        const w = found(params);
        const i = interval(params);
        const b = store.budget(w, i);
        return ok({ data: budgetView(w, i, b), include_byok_in_budgets: byok(w) });
      },
    },
    {
      method: 'PUT', path: '/api/v1/workspaces/:id/budgets/:interval', auth: 'management',
      handle: async ({ params, json }) => {
        const w = found(params);
        const i = interval(params);
        const b = parse(BudgetBody, await json());
        const saved = store.putBudget(w, i, b.limit_usd, b.include_byok_in_budgets);
        return ok({ data: budgetView(w, i, saved), include_byok_in_budgets: byok(w) });
      },
    },
    {
      // answers deleted: true for a window without a budget too, as the document says
      method: 'DELETE', path: '/api/v1/workspaces/:id/budgets/:interval', auth: 'management',
      handle: ({ params }) => {
        store.deleteBudget(found(params), interval(params));
        return ok({ deleted: true });
      },
    },
  ];
}
