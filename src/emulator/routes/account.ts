import { z } from 'zod';
import { roundUsd } from '../../util/money.ts';
import { utcDay } from '../../util/windows.ts';
import { HttpError, MESSAGES } from '../errors.ts';
import { endpointId, findModel } from '../catalog.ts';
import { ok, parse, type Route } from '../router.ts';
import type { Store } from '../store.ts';
import { currentKeyView } from '../views.ts';

const ActivityQuery = z.object({
  date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be YYYY-MM-DD').optional(),
  api_key_hash: z.string().min(1).optional(),
  user_id: z.string().min(1).optional(),
  workspace_id: z.string().min(1).optional(),
  group_by: z.literal('workspace').optional(),
});

const DAY_MS = 86_400_000;

export function accountRoutes(store: Store): Route[] {
  return [
    {
      method: 'GET', path: '/api/v1/key', auth: 'any',
      handle: ({ key }) => {
        if (!key) throw new HttpError(401, MESSAGES.missingAuth);
        return ok({ data: currentKeyView(key, store.state, store.now()) });
      },
    },
    {
      method: 'GET', path: '/api/v1/credits', auth: 'management',
      handle: () => ok({ data: { total_credits: store.state.totalCredits, total_usage: store.totalUsage() } }),
    },
    {
      method: 'GET', path: '/api/v1/activity', auth: 'management',
      handle: ({ url }) => {
        const q = parse(ActivityQuery, Object.fromEntries(url.searchParams));
        const now = store.now();
        // the last 30 completed UTC days: yesterday back to 30 days ago
        const newest = utcDay(now - DAY_MS);
        const oldest = utcDay(now - 30 * DAY_MS);
        if (q.date !== undefined && (q.date > newest || q.date < oldest)) {
          throw new HttpError(400, 'Invalid request parameters: date: must be within the last 30 completed UTC days');
        }
        if (q.workspace_id !== undefined) store.workspace(q.workspace_id);
        if (q.user_id !== undefined && q.user_id !== store.state.userId) throw new HttpError(404, MESSAGES.notFound);
        const rows = new Map<string, Record<string, unknown> & { usage: number; byok_usage_inference: number; requests: number; prompt_tokens: number; completion_tokens: number }>();
        for (const r of store.state.activity) {
          if (r.date > newest || r.date < oldest) continue;
          if (q.date !== undefined && r.date !== q.date) continue;
          if (q.api_key_hash !== undefined && r.keyHash !== q.api_key_hash) continue;
          if (q.workspace_id !== undefined && r.workspaceId !== store.workspace(q.workspace_id).id) continue;
          const model = findModel(r.model);
          if (!model) continue;
          const id = [r.date, model.slug, q.group_by ? r.workspaceId : ''].join('|');
          const row = rows.get(id) ?? {
            date: r.date, model: model.slug, model_permaslug: model.canonical, endpoint_id: endpointId(model),
            provider_name: model.provider, usage: 0, byok_usage_inference: 0, requests: 0, prompt_tokens: 0,
            completion_tokens: 0, reasoning_tokens: 0, ...(q.group_by ? { workspace_id: r.workspaceId } : {}),
          };
          row.usage = roundUsd(row.usage + r.usage);
          row.byok_usage_inference = roundUsd(row.byok_usage_inference + r.byok);
          row.requests += r.requests;
          row.prompt_tokens += r.promptTokens;
          row.completion_tokens += r.completionTokens;
          rows.set(id, row);
        }
        return ok({ data: [...rows.values()].toSorted((a, b) => String(b['date']).localeCompare(String(a['date']))) });
      },
    },
  ];
}
