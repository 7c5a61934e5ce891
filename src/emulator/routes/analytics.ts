/**
 * OpenRouter's analytics API (beta): GET /analytics/meta and POST /analytics/query, over the emulator's activity
 * rows (one per UTC day, key and model). What the emulator serves: the metrics and dimensions below, granularity
 * day, week or month (finer ones are refused: activity is kept per day), every filter operator, order_by, limit
 * (at most ANALYTICS_MAX_LIMIT) with `truncated` when rows were left out. Grouped by `api_key_id`, rows carry the
 * key's name, as OpenRouter enriches that dimension with a human-readable label.
 */
import { z } from 'zod';
import { roundUsd } from '../../util/money.ts';
import { findModel } from '../catalog.ts';
import { HttpError } from '../errors.ts';
import { ok, parse, type Route } from '../router.ts';
import type { ActivityRecord } from '../state.ts';
import type { Store } from '../store.ts';

export const ANALYTICS_MAX_LIMIT = 10_000;

const METRICS = {
  request_count: { label: 'Request Count', format: 'number', of: (r: ActivityRecord) => r.requests },
  total_usage: { label: 'Total Spend', format: 'currency', of: (r: ActivityRecord) => r.usage },
  byok_usage: { label: 'BYOK Spend', format: 'currency', of: (r: ActivityRecord) => r.byok },
  prompt_tokens: { label: 'Prompt Tokens', format: 'number', of: (r: ActivityRecord) => r.promptTokens },
  completion_tokens: { label: 'Completion Tokens', format: 'number', of: (r: ActivityRecord) => r.completionTokens },
} as const;

const DIMENSIONS = { model: 'Model', api_key_id: 'API Key', workspace: 'Workspace', provider: 'Provider' } as const;
type Dimension = keyof typeof DIMENSIONS;

const OPERATORS = { eq: 'scalar', neq: 'scalar', in: 'array', not_in: 'array', gt: 'scalar', gte: 'scalar', lt: 'scalar', lte: 'scalar' } as const;
const GRANULARITIES = { minute: 'Minute', hour: 'Hour', day: 'Day', week: 'Week', month: 'Month' } as const;
const SERVED_GRANULARITIES = ['day', 'week', 'month'] as const;

const known = <K extends string>(o: Record<K, unknown>, what: string) =>
  z.custom<K>((v) => typeof v === 'string' && Object.hasOwn(o, v), { error: (i) => `unknown ${what} ${String(i.input)}` });
const scalar = z.union([z.string(), z.number()]);
const Query = z.object({
  metrics: z.array(known(METRICS, 'metric')).min(1),
  dimensions: z.array(known(DIMENSIONS, 'dimension')).max(2).optional(),
  filters: z.array(z.object({ field: known(DIMENSIONS, 'dimension'), operator: known(OPERATORS, 'operator'), value: z.union([scalar, z.array(scalar)]), include_unset: z.boolean().optional() })).max(20).optional(),
  granularity: known(GRANULARITIES, 'granularity').optional(),
  time_range: z.object({ start: z.iso.datetime({ offset: true }), end: z.iso.datetime({ offset: true }) }).optional(),
  order_by: z.object({ field: z.string(), direction: z.enum(['asc', 'desc']) }).optional(),
  limit: z.int().min(1).max(ANALYTICS_MAX_LIMIT).optional(),
  group_limit: z.int().min(1).optional(),
});

const bad = (what: string) => new HttpError(400, `Invalid request parameters: ${what}`);
const DAY_MS = 86_400_000;

function bucket(date: string, granularity: string): string {
  const d = new Date(`${date}T00:00:00.000Z`);
  if (granularity === 'week') d.setUTCDate(d.getUTCDate() - ((d.getUTCDay() + 6) % 7));
  if (granularity === 'month') d.setUTCDate(1);
  return d.toISOString();
}

export function analyticsRoutes(store: Store): Route[] {
  /** The dimension's value as a row shows it, and as a filter matches it (the key hash or its name). */
  const valueOf = (r: ActivityRecord, d: Dimension): { shown: string; ids: string[] } => {
    switch (d) {
      case 'model': return { shown: r.model, ids: [r.model, findModel(r.model)?.canonical ?? r.model] };
      case 'api_key_id': {
        const name = r.keyName ?? store.state.keys.find((k) => k.hash === r.keyHash)?.name ?? r.keyHash;
        return { shown: name, ids: [r.keyHash] };
      }
      case 'workspace': return { shown: store.state.workspaces.find((w) => w.id === r.workspaceId)?.name ?? r.workspaceId, ids: [r.workspaceId] };
      case 'provider': return { shown: findModel(r.model)?.provider ?? 'unknown', ids: [findModel(r.model)?.providerSlug ?? 'unknown'] };
    }
  };
  const matches = (ids: string[], operator: string, value: unknown): boolean => {
    const values = (Array.isArray(value) ? value : [value]).map(String);
    switch (operator) {
      case 'eq': case 'in': return ids.some((i) => values.includes(i));
      case 'neq': case 'not_in': return !ids.some((i) => values.includes(i));
      default: return ids.some((i) => values.some((v) => (operator === 'gt' ? i > v : operator === 'gte' ? i >= v : operator === 'lt' ? i < v : i <= v)));
    }
  };

  return [
    {
      method: 'GET', path: '/api/v1/analytics/meta', auth: 'management',
      handle: () => ok({
        data: {
          metrics: Object.entries(METRICS).map(([name, m]) => ({ name, display_label: m.label, is_rate: false, display_format: m.format })),
          dimensions: Object.entries(DIMENSIONS).map(([name, display_label]) => ({ name, display_label })),
          operators: Object.entries(OPERATORS).map(([name, value_type]) => ({ name, value_type })),
          granularities: Object.entries(GRANULARITIES).map(([name, display_label]) => ({ name, display_label })),
        },
      }),
    },
    {
      method: 'POST', path: '/api/v1/analytics/query', auth: 'management',
      handle: async ({ json }) => {
        const started = performance.now();
        const q = parse(Query, await json());
        const metrics = q.metrics;
        const dims = q.dimensions ?? [];
        const g = q.granularity;
        if (g !== undefined && !(SERVED_GRANULARITIES as readonly string[]).includes(g)) throw bad(`granularity: the emulator keeps activity per day; use day, week or month`);
        for (const f of q.filters ?? []) {
          const type = OPERATORS[f.operator];
          if ((type === 'array') !== Array.isArray(f.value)) throw bad(`filters: ${f.operator} takes ${type === 'array' ? 'an array' : 'a single value'}`);
        }
        const now = store.now();
        const start = q.time_range ? Date.parse(q.time_range.start) : now - 30 * DAY_MS;
        const end = q.time_range ? Date.parse(q.time_range.end) : now;
        if (end < start) throw bad('time_range: end is before start');
        if (end - start > 366 * DAY_MS) throw bad('time_range: at most 365 days');
        const firstDay = new Date(start).toISOString().slice(0, 10);
        const lastDay = new Date(end).toISOString().slice(0, 10);

        const rows = new Map<string, Record<string, string | number>>();
        for (const r of store.state.activity) {
          if (r.date < firstDay || r.date > lastDay) continue;
          if (!(q.filters ?? []).every((f) => matches(valueOf(r, f.field).ids, f.operator, f.value))) continue;
          const key: Record<string, string | number> = {};
          if (g !== undefined) key[`date__${g}`] = bucket(r.date, g);
          for (const d of dims) key[d] = valueOf(r, d).shown;
          const id = JSON.stringify(key);
          const row = rows.get(id) ?? { ...key, ...Object.fromEntries(metrics.map((m) => [m, 0])) };
          for (const m of metrics) {
            const v = Number(row[m] ?? 0) + METRICS[m].of(r);
            row[m] = METRICS[m].format === 'currency' ? roundUsd(v) : v;
          }
          rows.set(id, row);
        }
        let out = [...rows.values()];
        const order = q.order_by;
        if (order) {
          const sign = order.direction === 'asc' ? 1 : -1;
          const field = order.field === 'date' && g !== undefined ? `date__${g}` : order.field;
          out = out.toSorted((a, b) => {
            const x = a[field] ?? 0;
            const y = b[field] ?? 0;
            return sign * (typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y)));
          });
        }
        const limit = q.limit ?? 1000;
        const truncated = out.length > limit;
        const data = out.slice(0, limit);
        return ok({ data: { data, metadata: { query_time_ms: Math.round((performance.now() - started) * 1000) / 1000, row_count: data.length, truncated } } });
      },
    },
  ];
}
