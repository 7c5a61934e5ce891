/** The OpenRouter client against the emulator: typed errors, retries, Retry-After, pagination, no blind POST retry. */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { OpenRouterClient } from '../../src/openrouter/client.ts';
import { OpenRouterError } from '../../src/openrouter/errors.ts';
import { OpenRouterKeys } from '../../src/openrouter/keys.ts';
import { RateLimiter } from '../../src/openrouter/limiter.ts';
import { systemClock } from '../../src/util/clock.ts';
import { startEmulator, type Harness } from './harness.ts';

let h: Harness;
let key: string | undefined;
let client: OpenRouterClient;
beforeAll(async () => {
  h = await startEmulator();
  client = new OpenRouterClient({ baseUrl: `${h.base}/api/v1`, apiKey: () => key, limiter: new RateLimiter(1000, 1000, systemClock), clock: systemClock });
});
afterAll(async () => {
  await client.close();
  await h.emu.stop();
});
beforeEach(() => {
  h.emu.reset();
  key = h.mk;
});

const failure = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (e) {
    if (e instanceof OpenRouterError) return e;
    throw e;
  }
  throw new Error('expected a failure');
};

describe('OpenRouterKeys (the controller\'s port)', () => {
  it('speaks the operator\'s terms both ways: no cap is undefined, no reset is never, spend per window', async () => {
    const keys = new OpenRouterKeys(client);
    const { key: made } = await keys.create({ name: 'k', limitUSD: undefined, reset: 'never', includeByok: true, expiresAt: '2030-01-01T00:00:00Z', workspaceId: undefined });
    expect(made).toMatchObject({ name: 'k', limitUSD: undefined, limitRemainingUSD: undefined, reset: 'never', includeByok: true, disabled: false, expiresAt: '2030-01-01T00:00:00Z' });
    expect(made.usage).toEqual({ daily: 0, weekly: 0, monthly: 0, total: 0 });
    const changed = await keys.update(made.hash, { limitUSD: 3, reset: 'weekly' });
    expect(changed).toMatchObject({ limitUSD: 3, limitRemainingUSD: 3, reset: 'weekly', includeByok: true });
    expect(await keys.update(made.hash, { limitUSD: null, reset: 'never', disabled: true, name: 'k2' })).toMatchObject({ limitUSD: undefined, reset: 'never', disabled: true, name: 'k2' });
    const listed: string[] = [];
    for await (const k of keys.list()) listed.push(k.hash);
    expect(listed).toEqual([made.hash]);
    await keys.delete(made.hash);
    expect((await failure(keys.get(made.hash))).kind).toBe('notFound');
  });
});

describe('OpenRouterClient', () => {
  it('creates, reads, updates, lists page by page and deletes', async () => {
    const { key: created, secret } = await client.createKey({ name: 'k', limit: 5, limit_reset: 'monthly', include_byok_in_limit: false, expires_at: null });
    expect(secret).toMatch(/^sk-or-v1-/);
    expect(created).not.toHaveProperty('key');
    expect((await client.updateKey(created.hash, { limit: 7 })).limit).toBe(7);
    for (let i = 0; i < 230; i++) h.emu.store.createKey({ name: `bulk${i}` });
    const before = h.emu.counters()['GET /api/v1/keys']?.['200'] ?? 0;
    const all: string[] = [];
    for await (const k of client.listKeys()) all.push(k.hash);
    expect(all).toHaveLength(231);
    expect((h.emu.counters()['GET /api/v1/keys']?.['200'] ?? 0) - before).toBe(3);
    await client.deleteKey(created.hash);
    await client.deleteKey(created.hash); // already gone is fine
    expect((await failure(client.getKey(created.hash))).kind).toBe('notFound');
  });

  it.each([
    ['unauthorized', 'sk-or-v1-bogus', 401],
    ['forbidden', undefined, 403],
  ] as const)('maps a %s answer', async (kind, k, status) => {
    key = k ?? h.emu.store.createKey({ name: 'standard' }).secret;
    const e = await failure(client.getKey('x'));
    expect(e).toMatchObject({ kind, status, route: 'GET /keys/{hash}' });
    expect(e.message).not.toContain(key);
  });

  it('retries idempotent calls through 5xx and 429, honouring Retry-After', async () => {
    h.emu.faults.set([
      { route: 'GET /api/v1/keys', kind: 'error', status: 503, times: 1, probability: 1, latencyMs: 0, retryAfterSeconds: 1 },
      { kind: 'rateLimit', times: 1, retryAfterSeconds: 1, probability: 1, status: 429, latencyMs: 0 },
    ]);
    const t = Date.now();
    await client.listKeysPage(0);
    expect(Date.now() - t).toBeGreaterThanOrEqual(900);
    expect(h.emu.counters()['GET /api/v1/keys']).toEqual({ '200': 1, '429': 1, '503': 1 });
  });

  it("reads a Retry-After date and an X-RateLimit-Reset epoch on OpenRouter's clock (its Date header), not ours", async () => {
    // OpenRouter's clock 10 minutes behind ours: measured against our clock, both waits would be 0
    const theirs = Date.now() - 600_000;
    let headers: Record<string, string> = {};
    const server = createServer((_req, res) => {
      res.writeHead(429, { 'content-type': 'application/json', date: new Date(theirs).toUTCString(), ...headers });
      res.end(JSON.stringify({ error: { code: 429, message: 'Rate limit exceeded' } }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    // a client per answer: each 429 pauses its limiter for the wait it read
    const odd = () => new OpenRouterClient({ baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1`, apiKey: () => h.mk, limiter: new RateLimiter(1000, 1000, systemClock), clock: systemClock, retries: 0 });
    const [a, b] = [odd(), odd()];
    try {
      headers = { 'retry-after': new Date(theirs + 30_000).toUTCString() };
      expect((await failure(a.getKey('x'))).retryAfterMs).toBeGreaterThanOrEqual(29_000);
      headers = { 'x-ratelimit-limit': '64', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(theirs + 30_000) };
      const e = await failure(b.getKey('x'));
      expect(e.retryAfterMs).toBeGreaterThanOrEqual(29_000);
      expect(e.retryAfterMs).toBeLessThanOrEqual(31_000);
      expect(b.rateHeaders.get('GET /keys/{hash}')).toMatchObject({ limit: 64, remaining: 0 });
    } finally {
      await Promise.all([a.close(), b.close()]);
      server.close();
    }
  });

  it('gives up after its retries with a transient error', async () => {
    h.emu.faults.set([{ kind: 'error', status: 502, probability: 1, latencyMs: 0, retryAfterSeconds: 1 }]);
    const e = await failure(client.getKey('x'));
    expect(e).toMatchObject({ kind: 'server', status: 502 });
    expect(e.transient).toBe(true);
    expect(h.emu.counters()['GET /api/v1/keys/{hash}']).toEqual({ '502': 3 });
  });

  it('never retries a create, whose key may exist even when the answer is lost', async () => {
    h.emu.faults.set([{ route: 'POST /api/v1/keys', kind: 'commitThenCut', times: 1, probability: 1, status: 500, latencyMs: 0, retryAfterSeconds: 1 }]);
    const e = await failure(client.createKey({ name: 'lost', limit: null, limit_reset: null, include_byok_in_limit: false, expires_at: null }));
    expect(e.kind).toBe('network');
    expect(h.emu.counters()['POST /api/v1/keys']).toEqual({ '0': 1 });
    expect(h.emu.store.listKeys({ includeDisabled: true }).map((k) => k.name)).toEqual(['lost']);
  });

  it('refuses to call without a management key', async () => {
    key = undefined;
    expect((await failure(client.currentKey())).kind).toBe('unauthorized');
    key = h.mk;
    expect(await client.currentKey()).toMatchObject({ isManagementKey: true });
  });
});
