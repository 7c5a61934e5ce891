/**
 * The analytics port (openrouter/analytics.ts) against the emulator: one query for the whole account when it fits
 * OpenRouter's row limit, batches of our keys when it does not, and typed errors for answers it cannot use.
 * The call counts here are the figures the docs quote for 100 and 1,000 members.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
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
  client = new OpenRouterClient({ baseUrl: `${h.base}/api/v1`, apiKey: () => h.mk, limiter: new RateLimiter(1000, 1000, systemClock), clock: systemClock });
});
afterAll(async () => {
  await client.close();
  await h.emu.stop();
});
beforeEach(() => h.emu.reset());

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
    const port = new OpenRouterAnalytics(client);
    const a = await port.usageByKeyModelDay(new Date(NOW - 30 * DAY), new Date(NOW), hashes);
    expect(a).toMatchObject({ truncated: false, calls: 2 });
    expect(a.rows).toHaveLength(100 * 31 * 2);
    expect(a.rows[0]).toEqual({ key: expect.stringMatching(/^teamkeys\/c1\/ns\/m\d+\/uid-\d+\/1$/), model: expect.any(String), date: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/), usd: 0.01, requests: 1 });
    // the meta check is made once per process
    const again = await port.usageByKeyModelDay(new Date(NOW - 30 * DAY), new Date(NOW), hashes);
    expect(again.calls).toBe(1);
  });

  it('reads 1,000 members past the row limit in batches of 100 keys, losing no row, and goes straight to the batches next time', async () => {
    const hashes = activity(1000, 31);
    const port = new OpenRouterAnalytics(client);
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
    const small = await port.usageByKeyModelDay(new Date(NOW - DAY), new Date(NOW - DAY), hashes);
    expect(small.rows).toHaveLength(1000 * 2);
    const q2 = queries();
    await port.usageByKeyModelDay(new Date(NOW - DAY), new Date(NOW - DAY), hashes);
    expect(queries() - q2).toBe(1);
  });

  it('refuses an analytics API without the metrics it needs, and a malformed row, with typed errors', async () => {
    // a stand-in server: the emulator always answers well, and these are answers OpenRouter might give
    let meta: unknown = { data: { metrics: [{ name: 'request_count' }], dimensions: [{ name: 'api_key_id' }, { name: 'model' }], granularities: [{ name: 'day' }] } };
    const answer = { data: { data: [{ api_key_id: 'x', model: 'm', date__day: '2026-01-01', total_usage: 'lots', request_count: 1 }], metadata: { query_time_ms: 1, row_count: 1, truncated: false } } };
    const server = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(req.url?.endsWith('/meta') ? meta : answer));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const odd = new OpenRouterClient({ baseUrl: `http://127.0.0.1:${port}/api/v1`, apiKey: () => h.mk, limiter: new RateLimiter(1000, 1000, systemClock), clock: systemClock, retries: 0 });
    try {
      const read = () => new OpenRouterAnalytics(odd).usageByKeyModelDay(new Date(), new Date(), []).catch((e: unknown) => e);
      const missing = await read();
      expect(missing).toBeInstanceOf(OpenRouterError);
      expect(String(missing)).toMatch(/analytics lacks metrics total_usage/);
      meta = { data: { metrics: [{ name: 'request_count' }, { name: 'total_usage' }], dimensions: [{ name: 'api_key_id' }, { name: 'model' }], granularities: [{ name: 'day' }] } };
      const malformed = await read();
      expect(malformed).toBeInstanceOf(OpenRouterError);
      expect(malformed).toMatchObject({ kind: 'invalidResponse' });
      expect(String(malformed)).toMatch(/total_usage/);
    } finally {
      await odd.close();
      server.close();
    }
  });
});
