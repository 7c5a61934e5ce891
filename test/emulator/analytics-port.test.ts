/**
 * The analytics port (openrouter/analytics.ts) against the emulator: one query for the whole account when it fits
 * OpenRouter's row limit, batches of our keys when it does not, and typed errors for answers it cannot use.
 * The call counts here are the figures the docs quote for 100 and 1,000 members.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { ANALYTICS_KEY_BATCH, OpenRouterAnalytics } from '../../src/openrouter/analytics.ts';
import { OpenRouterClient } from '../../src/openrouter/client.ts';
import { OpenRouterError } from '../../src/openrouter/errors.ts';
import { RateLimiter } from '../../src/openrouter/limiter.ts';
import { systemClock } from '../../src/util/clock.ts';
import { utcDay } from '../../src/util/windows.ts';
import { startEmulator, type Harness } from './harness.ts';

const DAY = 86_400_000;
/** "now" for the activity written and the periods read (midday): the same days on both sides, whatever the date */
const NOW = Date.parse('2027-03-10T12:00:00Z');
let h: Harness;
let client: OpenRouterClient;
beforeAll(async () => {
  h = await startEmulator();
  client = h.client();
});
afterAll(() => h.stop());
beforeEach(async () => {
  h.emu.reset();
  // these tests measure query counts, not OpenRouter's quota (tested below on its own)
  await h.control('PUT', '/analytics', { perMinute: null });
});
/** the port, with a lane wide enough not to pace these tests */
const analytics = (c = client) => new OpenRouterAnalytics(c, 60_000);

const queries = () => h.emu.counters()['POST /api/v1/analytics/query']?.['200'] ?? 0;

/** `keys` keys, each with a request on two models on each of the last `days` days. */
function activity(keys: number, days: number): string[] {
  const hashes: string[] = [];
  for (let k = 0; k < keys; k++) {
    const { key } = h.emu.store.createKey({ name: `teamkeys/c1/ns/m${k}/uid-${k}/1` });
    hashes.push(key.hash);
    for (let d = 0; d < days; d++) {
      for (const model of ['openai/gpt-4o-mini', 'openai/gpt-4.1']) {
        h.emu.store.state.activity.push({ date: utcDay(NOW - d * DAY), keyHash: key.hash, keyName: key.name, workspaceId: key.workspaceId, model, usage: 0.01, byok: 0, requests: 1, promptTokens: 10, completionTokens: 10 });
      }
    }
  }
  return hashes;
}

describe('OpenRouterAnalytics', () => {
  it('reads 100 members (31 days, 2 models each) with one query after one meta check', async () => {
    const hashes = activity(100, 31);
    const port = analytics();
    const a = await port.usageByKeyModelDay(new Date(NOW - 30 * DAY), new Date(NOW), hashes);
    expect(a).toMatchObject({ truncated: false, calls: 2 });
    expect(a.rows).toHaveLength(100 * 31 * 2);
    expect(a.rows[0]).toEqual({ key: expect.stringMatching(/^teamkeys\/c1\/ns\/m\d+\/uid-\d+\/1$/), model: expect.stringMatching(/-20\d{2}-\d{2}-\d{2}$/), date: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/), usd: 0.01, byokUsd: 0, requests: 1 });
    // the meta check is made once per process
    const again = await port.usageByKeyModelDay(new Date(NOW - 30 * DAY), new Date(NOW), hashes);
    expect(again.calls).toBe(1);
  });

  it('reads 1,000 members past the row limit in batches of 100 keys, losing no row, and goes straight to the batches next time', async () => {
    const hashes = activity(1000, 31);
    const port = analytics();
    const q0 = queries();
    const a = await port.usageByKeyModelDay(new Date(NOW - 30 * DAY), new Date(NOW), hashes);
    expect(a.truncated).toBe(false);
    expect(a.rows).toHaveLength(1000 * 31 * 2);
    expect(new Set(a.rows.map((r) => r.key)).size).toBe(1000);
    // one query for the whole account (cut), then one per batch of 100 keys
    expect(queries() - q0).toBe(1 + Math.ceil(1000 / ANALYTICS_KEY_BATCH));
    expect(a.calls).toBe(2 + Math.ceil(1000 / ANALYTICS_KEY_BATCH));
    // the next interval goes straight to the batches: ceil(N/100) queries
    const q1 = queries();
    const next = await port.usageByKeyModelDay(new Date(NOW - 30 * DAY), new Date(NOW), hashes);
    expect(next.rows).toHaveLength(1000 * 31 * 2);
    expect(queries() - q1).toBe(Math.ceil(1000 / ANALYTICS_KEY_BATCH));
    // once the rows would fit one answer again (an older window holds fewer), one query again
    // a short range has few rows per key: the batches grow to fill half an answer (100 keys, then the other 900)
    const q3 = queries();
    const small = await port.usageByKeyModelDay(new Date(NOW - DAY), new Date(NOW - DAY), hashes);
    expect(small.rows).toHaveLength(1000 * 2);
    expect(queries() - q3).toBe(2);
    const q2 = queries();
    await port.usageByKeyModelDay(new Date(NOW - DAY), new Date(NOW - DAY), hashes);
    expect(queries() - q2).toBe(1);
  });

  it('falls back to batches of 100 when OpenRouter refuses a longer filter, reading no row twice', async () => {
    const hashes = activity(1000, 31);
    const port = analytics();
    await port.usageByKeyModelDay(new Date(NOW - 30 * DAY), new Date(NOW), hashes);
    await h.control('PUT', '/analytics', { perMinute: null, filterValuesMax: 100 });
    // three days: the batches would grow past 100 keys, and the longer filter is refused
    const refused = await port.usageByKeyModelDay(new Date(NOW - 2 * DAY), new Date(NOW), hashes);
    expect(refused.rows).toHaveLength(1000 * 3 * 2);
    expect(new Set(refused.rows.map((r) => `${r.key} ${r.model} ${r.date}`)).size).toBe(1000 * 3 * 2);
    expect(h.emu.counters()['POST /api/v1/analytics/query']?.['400']).toBe(1);
  });

  it('refuses an analytics API without the metrics it needs; skips a malformed row and counts it, keeping the others', async () => {
    // a stand-in server: answers OpenRouter might give that the emulator does not
    let meta: unknown = { data: { metrics: [{ name: 'request_count' }], dimensions: [{ name: 'api_key_id' }, { name: 'model' }], granularities: [{ name: 'day' }] } };
    const rows = [
      { api_key_id: 'x', model: 'm', date__day: '2026-01-01', total_usage: 'lots', request_count: 1 },
      { api_key_id: 'y', model: 'm', created_at__day: '2026-01-01T00:00:00.000Z', total_usage: 0.5, byok_usage: null, request_count: '7' },
    ];
    const answer = { data: { data: rows, metadata: { query_time_ms: 1, row_count: 2, truncated: false } } };
    const server = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(req.url?.endsWith('/meta') ? meta : answer));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const odd = new OpenRouterClient({ baseUrl: `http://127.0.0.1:${port}/api/v1`, apiKey: () => h.mk, limiter: new RateLimiter(1000, 1000, systemClock), clock: systemClock, retries: 0 });
    try {
      const read = () => analytics(odd).usageByKeyModelDay(new Date(), new Date(), []).catch((e: unknown) => e);
      const missing = await read();
      expect(missing).toBeInstanceOf(OpenRouterError);
      expect(String(missing)).toMatch(/analytics lacks metrics total_usage, byok_usage/);
      meta = { data: { metrics: [{ name: 'request_count' }, { name: 'total_usage' }, { name: 'byok_usage' }], dimensions: [{ name: 'api_key_id' }, { name: 'model' }], granularities: [{ name: 'day' }] } };
      const a = await read();
      expect(a).toMatchObject({ skipped: 1, skippedWhy: expect.stringMatching(/^total_usage: /), rows: [{ key: 'y', model: 'm', date: '2026-01-01', usd: 0.5, byokUsd: 0, requests: 7 }] });
    } finally {
      await odd.close();
      server.close();
    }
  });

  it('waits in its own lane for the reset X-RateLimit-Reset gives when OpenRouter says 429, never slowing key calls', async () => {
    const hashes = activity(5, 3);
    await h.control('PUT', '/analytics', { perMinute: 2, windowSeconds: 2 });
    const keyLimiter = new RateLimiter(1000, 1000, systemClock);
    const c = new OpenRouterClient({ baseUrl: `${h.base}/api/v1`, apiKey: () => h.mk, limiter: keyLimiter, clock: systemClock });
    try {
      const port = analytics(c);
      const reads = [0, 1, 2].map(() => port.usageByKeyModelDay(new Date(NOW - 2 * DAY), new Date(NOW), hashes));
      // meanwhile key calls go at once: the analytics 429s never reach their limiter
      for (let i = 0; i < 5; i++) await c.getKey(hashes[0] ?? '');
      const answers = await Promise.all(reads);
      for (const a of answers) expect(a.rows).toHaveLength(5 * 3 * 2);
      expect(h.emu.counters()['POST /api/v1/analytics/query']?.['429'] ?? 0).toBeGreaterThan(0);
      expect(keyLimiter.throttles.seen).toBe(0);
      expect(port.lane.throttles.seen).toBeGreaterThan(0);
      expect(c.rateHeaders.get('POST /analytics/query')).toMatchObject({ limit: 2 });
    } finally {
      await c.close();
    }
  }, 60_000);

  it('narrows the time range on a 408 and keeps asking for the narrower range, losing no day', async () => {
    const hashes = activity(3, 31);
    await h.control('PUT', '/analytics', { perMinute: null, timeoutAboveDays: 8 });
    const port = analytics();
    const a = await port.usageByKeyModelDay(new Date(NOW - 30 * DAY), new Date(NOW), hashes);
    expect(a.rows).toHaveLength(3 * 31 * 2);
    expect(new Set(a.rows.map((r) => r.date)).size).toBe(31);
    // 31 days -> 16 -> 8: four 8-day pieces (and the 408s on the way); the next read goes straight to 8-day pieces
    expect(h.emu.counters()['POST /api/v1/analytics/query']?.['408']).toBe(3);
    const q = queries();
    const again = await port.usageByKeyModelDay(new Date(NOW - 30 * DAY), new Date(NOW), hashes);
    expect(again.rows).toHaveLength(3 * 31 * 2);
    expect(queries() - q).toBe(4);
    expect(h.emu.counters()['POST /api/v1/analytics/query']?.['408']).toBe(3);
  });

  it("reads the warning for a deleted key's hash, and does not ask for that hash again", async () => {
    const hashes = activity(170, 31); // past the row limit: batches of hashes
    await client.deleteKey(hashes[0] ?? '');
    const port = analytics();
    const a = await port.usageByKeyModelDay(new Date(NOW - 30 * DAY), new Date(NOW), hashes);
    expect(a.unresolved).toEqual([hashes[0]]);
    // its rows are gone from analytics for good: what a deleted key spent is kept by the operator, never read back
    expect(a.rows).toHaveLength(169 * 31 * 2);
    const spy = vi.spyOn(client, 'request');
    try {
      const again = await port.usageByKeyModelDay(new Date(NOW - 30 * DAY), new Date(NOW), hashes);
      expect(again.rows).toHaveLength(169 * 31 * 2);
      const asked = spy.mock.calls.flatMap((call) => {
        const body = call[4] as { filters?: { value: string[] }[] } | undefined;
        return body?.filters?.flatMap((f) => f.value) ?? [];
      });
      expect(asked).toHaveLength(169);
      expect(asked).not.toContain(hashes[0]);
    } finally {
      spy.mockRestore();
    }
  });
});
