/**
 * OpenRouter's analytics API (beta): GET /analytics/meta and POST /analytics/query, over the emulator's activity
 * rows (one per UTC day, key and model), answered the way the official sources describe the real service:
 * - counts (request_count, tokens_*) are JSON strings, costs are numbers; a metric with nothing to count is null;
 * - the time column is `date__<granularity>` or `created_at__<granularity>` (by the data source a query resolves to);
 * - total_usage includes BYOK inference spend (byok_usage is that part);
 * - `api_key_id` shows the key's name, resolved when the query runs: a deleted key's rows have no value (null),
 *   and a filter on a hash that no longer resolves matches nothing and adds a `warnings` entry;
 * - `model` is the permaslug (the dated model id); weeks start on Sunday;
 * - 64 requests a minute for the account, with X-RateLimit-* headers; a range too wide can time out (408).
 * Each of these is switchable (PUT /_emulator/analytics) so tests can reach every documented variant.
 * Granularity day, week or month (finer ones are refused: activity is kept per day), every filter operator,
 * order_by, limit (at most ANALYTICS_MAX_LIMIT) with `truncated` when rows were left out.
 */
import { z } from 'zod';
import { roundUsd } from '../../util/money.ts';
import { findModel } from '../catalog.ts';
import { HttpError, MESSAGES } from '../errors.ts';
import type { WindowRateLimit } from '../ratelimit.ts';
import { ok, parse, type Route } from '../router.ts';
import type { ActivityRecord } from '../state.ts';
import type { Store } from '../store.ts';

/** How the emulator answers analytics; the defaults are the real service's, as its documentation describes it. */
export const AnalyticsSettingsSchema = z.object({
  /** how counts are sent: strings, as OpenRouter does, or numbers, as its OpenAPI example shows */
  counts: z.enum(['string', 'number']).default('string'),
  /** the time column's prefix */
  timeColumn: z.enum(['date', 'created_at']).default('date'),
  /** a metric with nothing to count is null (true) or 0 */
  nulls: z.boolean().default(true),
  /** the account's analytics quota per minute; null: none */
  perMinute: z.int().positive().max(100_000).nullable().default(64),
  /** the quota's window: a minute, as OpenRouter's; shorter for tests that wait for a reset */
  windowSeconds: z.int().min(1).max(3600).default(60),
  /** a 429 carries Retry-After (OpenRouter sends it only sometimes) */
  retryAfter: z.boolean().default(false),
  /** a query spanning more UTC days than this answers 408, as a slow query does; null: never */
  timeoutAboveDays: z.int().positive().nullable().default(null),
  /** a filter holding more values than this is refused (400), as a service may refuse a long one; null: no bound */
  filterValuesMax: z.int().positive().nullable().default(null),
  /** the first N rows of every answer carry a count that is not a number, as a changed API might send */
  badRows: z.int().min(0).max(1000).default(0),
});
export type AnalyticsSettings = z.infer<typeof AnalyticsSettingsSchema>;
export const defaultAnalyticsSettings = (): AnalyticsSettings => AnalyticsSettingsSchema.parse({});

export interface AnalyticsDeps {
  store: Store;
  settings: () => AnalyticsSettings;
  limit: WindowRateLimit;
}

export const ANALYTICS_MAX_LIMIT = 10_000;

const METRICS = {
  request_count: { label: 'Request Count', format: 'number', of: (r: ActivityRecord) => r.requests },
  total_usage: { label: 'Total Spend', format: 'currency', of: (r: ActivityRecord) => r.usage + r.byok },
  byok_usage: { label: 'BYOK Spend', format: 'currency', of: (r: ActivityRecord) => r.byok },
  tokens_prompt: { label: 'Prompt Tokens', format: 'number', of: (r: ActivityRecord) => r.promptTokens },
  tokens_completion: { label: 'Completion Tokens', format: 'number', of: (r: ActivityRecord) => r.completionTokens },
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
  // weeks start on Sunday, as in OpenRouter's own samples
  if (granularity === 'week') d.setUTCDate(d.getUTCDate() - d.getUTCDay());
  if (granularity === 'month') d.setUTCDate(1);
  return d.toISOString();
}

export function analyticsRoutes({ store, settings, limit }: AnalyticsDeps): Route[] {
  /** The dimension's value as a row shows it (null: unset), and as a filter matches it (the key hash, the model's slugs). */
  const valueOf = (r: ActivityRecord, d: Dimension, live: ReadonlyMap<string, string>): { shown: string | null; ids: string[] } => {
    switch (d) {
      case 'model': return { shown: findModel(r.model)?.canonical ?? r.model, ids: [r.model, findModel(r.model)?.canonical ?? r.model] };
      case 'api_key_id': {
        // names are resolved when the query runs: a deleted key has none, and its hash no longer matches a filter
        const name = live.get(r.keyHash);
        return { shown: name ?? null, ids: name === undefined ? [] : [r.keyHash] };
      }
      case 'workspace': return { shown: store.state.workspaces.find((w) => w.id === r.workspaceId)?.name ?? r.workspaceId, ids: [r.workspaceId] };
      case 'provider': return { shown: findModel(r.model)?.provider ?? null, ids: [findModel(r.model)?.providerSlug ?? 'unknown'] };
    }
  };
  /** Counts as the settings send them; a metric that counted nothing as null. */
  const shown = (m: keyof typeof METRICS, v: number, set: AnalyticsSettings): string | number | null => {
    if (v === 0 && set.nulls) return null;
    if (METRICS[m].format === 'currency') return roundUsd(v);
    return set.counts === 'string' ? String(v) : v;
  };
  /** The quota: headers for every answer, a 429 beyond it. */
  const quota = (): Record<string, string> => {
    const set = settings();
    const t = limit.take(set.perMinute, store.now(), set.retryAfter, set.windowSeconds * 1000);
    if (!t.ok) throw new HttpError(429, MESSAGES.rateLimited, t.headers);
    return t.headers;
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
      handle: () => withHeaders(quota(), ok({
        data: {
          metrics: Object.entries(METRICS).map(([name, m]) => ({ name, display_label: m.label, is_rate: false, display_format: m.format })),
          dimensions: Object.entries(DIMENSIONS).map(([name, display_label]) => ({ name, display_label })),
          operators: Object.entries(OPERATORS).map(([name, value_type]) => ({ name, value_type })),
          granularities: Object.entries(GRANULARITIES).map(([name, display_label]) => ({ name, display_label })),
        },
      })),
    },
    {
      method: 'POST', path: '/api/v1/analytics/query', auth: 'management',
      handle: async ({ json }) => {
        const headers = quota();
        const set = settings();
        const started = performance.now();
        const q = parse(Query, await json());
        const metrics = q.metrics;
        const dims = q.dimensions ?? [];
        const g = q.granularity;
        if (g !== undefined && !(SERVED_GRANULARITIES as readonly string[]).includes(g)) throw bad(`granularity: the emulator keeps activity per day; use day, week or month`);
        for (const f of q.filters ?? []) {
          const type = OPERATORS[f.operator];
          if ((type === 'array') !== Array.isArray(f.value)) throw bad(`filters: ${f.operator} takes ${type === 'array' ? 'an array' : 'a single value'}`);
          if (set.filterValuesMax !== null && Array.isArray(f.value) && f.value.length > set.filterValuesMax) throw bad(`filters: at most ${set.filterValuesMax} values`);
        }
        const now = store.now();
        const start = q.time_range ? Date.parse(q.time_range.start) : now - 30 * DAY_MS;
        const end = q.time_range ? Date.parse(q.time_range.end) : now;
        if (end < start) throw bad('time_range: end is before start');
        if (end - start > 366 * DAY_MS) throw bad('time_range: at most 365 days');
        const firstDay = new Date(start).toISOString().slice(0, 10);
        const lastDay = new Date(end).toISOString().slice(0, 10);
        const spanDays = Math.floor(end / DAY_MS) - Math.floor(start / DAY_MS) + 1;
        if (set.timeoutAboveDays !== null && spanDays > set.timeoutAboveDays) throw new HttpError(408, MESSAGES.timedOut, headers);

        const live = new Map(store.state.keys.filter((k) => !k.management).map((k) => [k.hash, k.name]));
        const warnings: string[] = [];
        for (const f of q.filters ?? []) {
          if (f.field !== 'api_key_id') continue;
          for (const v of (Array.isArray(f.value) ? f.value : [f.value]).map(String)) {
            if (/^[0-9a-f]{64}$/.test(v) && !live.has(v)) warnings.push(`Could not resolve api_key_id filter value ${v}: no such key`);
          }
        }
        const column = g === undefined ? undefined : `${set.timeColumn}__${g}`;
        const sums = new Map<string, { dims: Record<string, string | null>; values: Record<string, number> }>();
        for (const r of store.state.activity) {
          if (r.date < firstDay || r.date > lastDay) continue;
          if (!(q.filters ?? []).every((f) => matches(valueOf(r, f.field, live).ids, f.operator, f.value))) continue;
          const key: Record<string, string | null> = {};
          if (column !== undefined && g !== undefined) key[column] = bucket(r.date, g);
          for (const d of dims) key[d] = valueOf(r, d, live).shown;
          const id = JSON.stringify(key);
          const row = sums.get(id) ?? { dims: key, values: Object.fromEntries(metrics.map((m) => [m, 0])) };
          for (const m of metrics) row.values[m] = (row.values[m] ?? 0) + METRICS[m].of(r);
          sums.set(id, row);
        }
        let out = [...sums.values()].map((r) => ({ ...r.dims, ...Object.fromEntries(metrics.map((m) => [m, shown(m, r.values[m] ?? 0, set)])) }));
        const order = q.order_by;
        if (order) {
          const sign = order.direction === 'asc' ? 1 : -1;
          const field = order.field === 'date' && column !== undefined ? column : order.field;
          const num = (v: string | number | null | undefined) => (v === null || v === undefined ? 0 : Number(v));
          out = out.toSorted((a: Record<string, string | number | null>, b: Record<string, string | number | null>) => {
            const x = a[field];
            const y = b[field];
            const numeric = Object.hasOwn(METRICS, field);
            return sign * (numeric ? num(x) - num(y) : String(x ?? '').localeCompare(String(y ?? '')));
          });
        }
        const max = q.limit ?? 1000;
        const truncated = out.length > max;
        const data = out.slice(0, max).map((r, i) => (i < set.badRows ? { ...r, request_count: 'n/a' } : r));
        return withHeaders(headers, ok({ data: { data, metadata: { query_time_ms: Math.round((performance.now() - started) * 1000) / 1000, row_count: data.length, truncated }, ...(warnings.length > 0 ? { warnings } : {}) } }));
      },
    },
  ];
}

function withHeaders(headers: Record<string, string>, reply: ReturnType<typeof ok>): ReturnType<typeof ok> {
  return { ...reply, headers: { ...reply.headers, ...headers } };
}
