import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ANALYTICS_MAX_LIMIT } from '../../src/emulator/routes/analytics.ts';
import { errorOf, startEmulator, type Answer, type Harness } from './harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await startEmulator();
});
afterAll(() => h.emu.stop());
/** a fixed instant for the emulator (midday): the requests below and the day they are counted in, whatever the date */
const NOW = Date.parse('2027-03-10T12:00:00Z');
beforeEach(() => {
  h.emu.reset();
  h.emu.clock.set(NOW);
});

const chat = (key: string, model: string) =>
  h.raw('POST', '/api/v1/chat/completions', { key, body: { model, messages: [{ role: 'user', content: 'hello there' }], max_tokens: 100 } });
type Rows = { data: { data: Record<string, string | number | null>[]; metadata: { row_count: number; truncated: boolean }; warnings?: string[] } };
const query = async (body: unknown) => {
  const a = await h.api('POST', '/analytics/query', { key: h.mk, body });
  expect(a.status).toBe(200);
  return (a.body as Rows).data;
};
const header = (a: Answer, name: string) => {
  const v = a.headers[name];
  return Array.isArray(v) ? v[0] : v;
};
const today = () => new Date(h.emu.clock.now()).toISOString().slice(0, 10);
const range = { start: new Date(NOW - 2 * 86_400_000).toISOString(), end: new Date(NOW + 3_600_000).toISOString() };

describe('GET /analytics/meta', () => {
  it('lists the metrics, dimensions, operators and granularities, to a management key only', async () => {
    const a = await h.api('GET', '/analytics/meta', { key: h.mk });
    const d = (a.body as { data: { metrics: { name: string; display_format: string }[]; dimensions: { name: string }[]; operators: { name: string }[]; granularities: { name: string }[] } }).data;
    expect(d.metrics).toEqual(expect.arrayContaining([{ name: 'total_usage', display_label: 'Total Spend', is_rate: false, display_format: 'currency' }]));
    expect(d.dimensions.map((x) => x.name)).toEqual(expect.arrayContaining(['api_key_id', 'model']));
    expect(d.operators.map((x) => x.name)).toEqual(['eq', 'neq', 'in', 'not_in', 'gt', 'gte', 'lt', 'lte']);
    expect(d.granularities.map((x) => x.name)).toEqual(['minute', 'hour', 'day', 'week', 'month']);
    const k = await h.createKey();
    expect((await h.api('GET', '/analytics/meta', { key: k.key })).status).toBe(403);
    expect((await h.api('GET', '/analytics/meta')).status).toBe(401);
  });
});

describe('POST /analytics/query', () => {
  it('groups spend and requests by key and model per day as OpenRouter answers: names, permaslugs, counts as strings', async () => {
    const a = await h.createKey({ name: 'alice-key' });
    const b = await h.createKey({ name: 'bob-key' });
    for (const [key, model] of [[a.key, 'openai/gpt-4o-mini'], [a.key, 'openai/gpt-4o-mini'], [a.key, 'openai/gpt-4.1'], [b.key, 'openai/gpt-4.1']] as const) expect((await chat(key, model)).status).toBe(200);
    const d = await query({ metrics: ['total_usage', 'request_count'], dimensions: ['api_key_id', 'model'], granularity: 'day', time_range: range, order_by: { field: 'total_usage', direction: 'desc' } });
    expect(d.metadata).toMatchObject({ row_count: 3, truncated: false });
    const row = (key: string, model: string) => d.data.find((r) => r['api_key_id'] === key && r['model'] === model);
    // the model is its permaslug (dated id); counts are strings, costs numbers
    expect(row('alice-key', 'openai/gpt-4o-mini-2024-07-18')).toMatchObject({ request_count: '2', date__day: `${today()}T00:00:00.000Z` });
    expect(typeof row('alice-key', 'openai/gpt-4o-mini-2024-07-18')?.['total_usage']).toBe('number');
    expect(row('alice-key', 'openai/gpt-4.1-2025-04-14')?.['request_count']).toBe('1');
    expect(row('bob-key', 'openai/gpt-4.1-2025-04-14')?.['request_count']).toBe('1');
    const usd = d.data.map((r) => Number(r['total_usage']));
    expect(usd).toEqual(usd.toSorted((x, y) => y - x));
    // the totals equal what the key list reports
    const listed = (await h.api('GET', '/keys/{hash}', { key: h.mk, params: { hash: a.hash } })).body as { data: { usage: number } };
    expect(Number(row('alice-key', 'openai/gpt-4o-mini-2024-07-18')?.['total_usage']) + Number(row('alice-key', 'openai/gpt-4.1-2025-04-14')?.['total_usage'])).toBeCloseTo(listed.data.usage, 9);
  });

  it('counts BYOK inference in total_usage, shows it as byok_usage, and answers null for a metric with nothing to count', async () => {
    const a = await h.createKey({ name: 'byok-key' });
    await h.control('POST', `/keys/${a.hash}/spend`, { usd: 2, model: 'openai/gpt-4.1' });
    await h.control('POST', `/keys/${a.hash}/spend`, { usd: 3, byok: true, model: 'openai/gpt-4.1' });
    await h.control('POST', `/keys/${a.hash}/spend`, { usd: 1, model: 'openai/gpt-4o-mini' });
    const d = await query({ metrics: ['total_usage', 'byok_usage', 'request_count', 'tokens_prompt'], dimensions: ['model'], time_range: range, order_by: { field: 'total_usage', direction: 'desc' } });
    expect(d.data).toEqual([
      { model: 'openai/gpt-4.1-2025-04-14', total_usage: 5, byok_usage: 3, request_count: '2', tokens_prompt: null },
      { model: 'openai/gpt-4o-mini-2024-07-18', total_usage: 1, byok_usage: null, request_count: '1', tokens_prompt: null },
    ]);
    // the switches: numbers and zeros instead, and the other time column
    await h.control('PUT', '/analytics', { counts: 'number', nulls: false, timeColumn: 'created_at' });
    const n = await query({ metrics: ['byok_usage', 'request_count'], granularity: 'day', time_range: range, order_by: { field: 'date', direction: 'asc' } });
    expect(n.data).toEqual([{ created_at__day: `${today()}T00:00:00.000Z`, byok_usage: 3, request_count: 3 }]);
  });

  it('starts weeks on Sunday', async () => {
    const a = await h.createKey({ name: 'w' });
    await chat(a.key, 'openai/gpt-4o-mini'); // 2027-03-10 is a Wednesday
    const d = await query({ metrics: ['request_count'], granularity: 'week', time_range: range });
    expect(d.data).toEqual([{ date__week: '2027-03-07T00:00:00.000Z', request_count: '1' }]);
  });

  it('filters by key hash (eq, in, not_in); a deleted key no longer resolves: no rows, a warning, no name', async () => {
    const a = await h.createKey({ name: 'a' });
    const b = await h.createKey({ name: 'b' });
    await chat(a.key, 'openai/gpt-4o-mini');
    await chat(b.key, 'openai/gpt-4o-mini');
    const by = async (operator: string, value: unknown) => (await query({ metrics: ['request_count'], dimensions: ['api_key_id'], filters: [{ field: 'api_key_id', operator, value }], time_range: range })).data.map((r) => String(r['api_key_id'])).toSorted((x, y) => x.localeCompare(y));
    expect(await by('eq', a.hash)).toEqual(['a']);
    expect(await by('in', [a.hash, b.hash])).toEqual(['a', 'b']);
    expect(await by('not_in', [a.hash])).toEqual(['b']);
    await h.api('DELETE', '/keys/{hash}', { key: h.mk, params: { hash: a.hash } });
    expect(await by('eq', a.hash)).toEqual([]);
    const warned = await query({ metrics: ['request_count'], dimensions: ['api_key_id'], filters: [{ field: 'api_key_id', operator: 'in', value: [a.hash, b.hash] }], time_range: range });
    expect(warned.data.map((r) => r['api_key_id'])).toEqual(['b']);
    expect(warned.warnings).toEqual([expect.stringContaining(a.hash)]);
    // unfiltered, its spend is still counted, under no key
    const all = await query({ metrics: ['request_count'], dimensions: ['api_key_id'], time_range: range, order_by: { field: 'api_key_id', direction: 'asc' } });
    expect(all.data).toEqual([{ api_key_id: null, request_count: '1' }, { api_key_id: 'b', request_count: '1' }]);
  });

  it('allows 64 queries a minute for the account, with X-RateLimit headers on every answer and a 429 beyond', async () => {
    await h.control('PUT', '/analytics', { perMinute: 3, windowSeconds: 2 });
    const heads: (string | undefined)[][] = [];
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await h.raw('POST', '/api/v1/analytics/query', { key: h.mk, body: { metrics: ['request_count'] } });
      statuses.push(res.status);
      heads.push(['x-ratelimit-limit', 'x-ratelimit-remaining', 'retry-after'].map((n) => header(res, n)));
      const reset = Number(header(res, 'x-ratelimit-reset'));
      // the reset is an epoch in milliseconds on the emulator's clock, within the window
      expect(reset - Date.parse(header(res, 'date') ?? '')).toBeGreaterThan(-1000);
      expect(reset - NOW).toBeLessThanOrEqual(2_000 + 60_000);
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
    expect(heads).toEqual([['3', '2', undefined], ['3', '1', undefined], ['3', '0', undefined], ['3', '0', undefined]]);
    // Retry-After only when asked for
    await h.control('PUT', '/analytics', { perMinute: 1, windowSeconds: 60, retryAfter: true });
    await h.raw('POST', '/api/v1/analytics/query', { key: h.mk, body: { metrics: ['request_count'] } });
    const limited = await h.raw('POST', '/api/v1/analytics/query', { key: h.mk, body: { metrics: ['request_count'] } });
    expect(limited.status).toBe(429);
    expect(Number(header(limited, 'retry-after'))).toBeGreaterThan(0);
  });

  it('answers 408 for a range wider than a slow query allows, and rows that carry a count that is no number when asked', async () => {
    await h.control('PUT', '/analytics', { timeoutAboveDays: 2 });
    const slow = await h.api('POST', '/analytics/query', { key: h.mk, body: { metrics: ['request_count'], time_range: range } });
    expect(slow.status).toBe(408);
    expect(errorOf(slow).message).toMatch(/timed out/);
    await h.control('PUT', '/analytics', { badRows: 1 });
    const a = await h.createKey({ name: 'bad' });
    await chat(a.key, 'openai/gpt-4o-mini');
    expect((await query({ metrics: ['request_count'], time_range: range })).data).toEqual([{ request_count: 'n/a' }]);
  });

  it('reports truncation when rows exceed the limit, and sums without dimensions', async () => {
    const keys = [await h.createKey({ name: 'x' }), await h.createKey({ name: 'y' }), await h.createKey({ name: 'z' })];
    for (const k of keys) await chat(k.key, 'openai/gpt-4o-mini');
    const cut = await query({ metrics: ['request_count'], dimensions: ['api_key_id'], limit: 2, time_range: range });
    expect(cut.metadata).toEqual(expect.objectContaining({ row_count: 2, truncated: true }));
    const total = await query({ metrics: ['request_count'], time_range: range });
    expect(total.data).toEqual([{ request_count: '3' }]);
    const monthly = await query({ metrics: ['request_count'], granularity: 'month', time_range: range });
    expect(String(monthly.data[0]?.['date__month'])).toMatch(/^\d{4}-\d{2}-01T00:00:00.000Z$/);
  });

  it('refuses what it cannot answer with a 400 naming the field', async () => {
    const bad = async (body: unknown) => errorOf(await h.api('POST', '/analytics/query', { key: h.mk, body })).message;
    expect(await bad({})).toMatch(/metrics/);
    expect(await bad({ metrics: [] })).toMatch(/metrics/);
    expect(await bad({ metrics: ['nope'] })).toMatch(/unknown metric nope/);
    expect(await bad({ metrics: ['request_count'], dimensions: ['model', 'api_key_id', 'provider'] })).toMatch(/dimensions/);
    expect(await bad({ metrics: ['request_count'], dimensions: ['colour'] })).toMatch(/unknown dimension colour/);
    expect(await bad({ metrics: ['request_count'], granularity: 'hour' })).toMatch(/granularity/);
    expect(await bad({ metrics: ['request_count'], filters: [{ field: 'api_key_id', operator: 'in', value: 'x' }] })).toMatch(/in takes an array/);
    expect(await bad({ metrics: ['request_count'], filters: [{ field: 'api_key_id', operator: 'like', value: 'x' }] })).toMatch(/unknown operator/);
    expect(await bad({ metrics: ['request_count'], limit: ANALYTICS_MAX_LIMIT + 1 })).toMatch(/limit/);
    expect(await bad({ metrics: ['request_count'], time_range: { start: '2026-02-01T00:00:00Z', end: '2026-01-01T00:00:00Z' } })).toMatch(/time_range/);
    const k = await h.createKey();
    expect((await h.api('POST', '/analytics/query', { key: k.key, body: { metrics: ['request_count'] } })).status).toBe(403);
  });
});
