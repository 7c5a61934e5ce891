import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Emulator } from '../../src/emulator/server.ts';
import { errorOf, startEmulator, type Harness } from './harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await startEmulator();
});
afterAll(() => h.emu.stop());
beforeEach(() => h.emu.reset());

const faults = (rules: unknown[], seed?: number) => h.raw('PUT', '/_emulator/faults', { body: { rules, seed } });

describe('fault injection', () => {
  it('answers 5xx for the next N calls of one route, then recovers', async () => {
    await faults([{ route: 'GET /api/v1/keys', kind: 'error', status: 503, times: 2 }]);
    expect((await h.api('GET', '/keys', { key: h.mk })).status).toBe(503);
    expect((await h.api('GET', '/credits', { key: h.mk })).status).toBe(200);
    expect((await h.api('GET', '/keys', { key: h.mk })).status).toBe(503);
    expect((await h.api('GET', '/keys', { key: h.mk })).status).toBe(200);
  });

  it('rate-limits with 429 and Retry-After', async () => {
    await faults([{ kind: 'rateLimit', retryAfterSeconds: 7, times: 1 }]);
    const a = await h.api('POST', '/keys', { key: h.mk, body: { name: 'x' } });
    expect(a.status).toBe(429);
    expect(a.headers['retry-after']).toBe('7');
    expect(errorOf(a).message).toBe('Rate limit exceeded');
  });

  it('enforces a rate limit on management calls: the burst goes through, then 429 with Retry-After in seconds', async () => {
    expect((await h.raw('PUT', '/_emulator/rate-limit', { body: { perSecond: 0.5, burst: 3 } })).status).toBe(200);
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push(await h.api('GET', '/keys', { key: h.mk }));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 429, 429]);
    expect(answers[3]?.headers['retry-after']).toBe('2');
    expect(errorOf(answers[3]!).message).toBe('Rate limit exceeded');
    // inference and the controls are not management calls
    expect((await h.raw('GET', '/_emulator/state')).status).toBe(200);
    expect(h.emu.counters()['GET /api/v1/keys']).toEqual({ 200: 3, 429: 2 });
    expect((await h.raw('DELETE', '/_emulator/rate-limit')).status).toBe(200);
    expect((await h.api('GET', '/keys', { key: h.mk })).status).toBe(200);
    expect((await h.raw('PUT', '/_emulator/rate-limit', { body: { perSecond: 0 } })).status).toBe(400);
  });

  it('adds latency', async () => {
    await faults([{ kind: 'latency', latencyMs: 300, times: 1 }]);
    const t = performance.now();
    expect((await h.api('GET', '/credits', { key: h.mk })).status).toBe(200);
    expect(performance.now() - t).toBeGreaterThanOrEqual(290);
  });

  it('cuts the connection', async () => {
    await faults([{ kind: 'cut', times: 1 }]);
    await expect(h.raw('GET', '/api/v1/credits', { key: h.mk })).rejects.toThrow();
    expect((await h.api('GET', '/credits', { key: h.mk })).status).toBe(200);
  });

  it('creates the key but fails the response: the crash window a client must survive', async () => {
    await faults([{ route: 'POST /api/v1/keys', kind: 'commitThenError', times: 1 }]);
    const a = await h.api('POST', '/keys', { key: h.mk, body: { name: 'tk1.ns.alice.uid' } });
    expect(a.status).toBe(500);
    expect(JSON.stringify(a.body)).not.toMatch(/sk-or-v1-[0-9a-f]{8}/);
    const list = await h.api('GET', '/keys', { key: h.mk });
    expect((list.body as { data: { name: string }[] }).data.map((k) => k.name)).toEqual(['tk1.ns.alice.uid']);
    await faults([{ route: 'POST /api/v1/keys', kind: 'commitThenCut', times: 1 }]);
    await expect(h.raw('POST', '/api/v1/keys', { key: h.mk, body: { name: 'second' } })).rejects.toThrow();
    expect(h.emu.store.listKeys({ includeDisabled: true })).toHaveLength(2);
  });

  it('fires a probability rule deterministically for a seed', async () => {
    const run = async () => {
      await faults([{ route: 'GET /api/v1/credits', kind: 'error', probability: 0.5 }], 42);
      const out: number[] = [];
      for (let i = 0; i < 20; i++) out.push((await h.api('GET', '/credits', { key: h.mk })).status);
      return out;
    };
    const first = await run();
    expect(first).toContain(500);
    expect(first).toContain(200);
    expect(await run()).toEqual(first);
  });

  it('rejects a bad rule', async () => {
    expect((await faults([{ kind: 'explode' }])).status).toBe(400);
  });
});

describe('controls', () => {
  it('counts calls by route and status, moves the clock, adds spend and resets', async () => {
    const k = await h.createKey({ limit: 5 });
    await h.api('GET', '/keys/{hash}', { key: h.mk, params: { hash: k.hash } });
    await h.api('GET', '/keys/{hash}', { key: h.mk, params: { hash: 'nope' } });
    const counters = (await h.raw('GET', '/_emulator/counters')).body;
    expect(counters).toMatchObject({ 'POST /api/v1/keys': { '201': 1 }, 'GET /api/v1/keys/{hash}': { '200': 1, '404': 1 } });
    const clock = await h.raw('POST', '/_emulator/clock', { body: { set: '2030-01-01T00:00:00Z' } });
    expect((clock.body as { now: string }).now).toMatch(/^2030-01-01T00:00:0/);
    await h.raw('POST', '/_emulator/clock', { body: { advanceSeconds: 86_400 } });
    expect(new Date(h.emu.clock.now()).toISOString()).toMatch(/^2030-01-02/);
    const spent = await h.raw('POST', `/_emulator/keys/${k.hash}/spend`, { body: { usd: 2 } });
    expect((spent.body as { data: { limit_remaining: number } }).data.limit_remaining).toBe(3);
    expect((await h.raw('POST', `/_emulator/keys/${k.hash}/spend`, { body: { usd: -1 } })).status).toBe(400);
    const state = (await h.raw('GET', '/_emulator/state')).body as { keys: { hash: string; usage: number }[] };
    expect(state.keys).toEqual([expect.objectContaining({ hash: k.hash, usage: 2 })]);
    expect(JSON.stringify(state)).not.toContain(k.key);
    await h.raw('POST', '/_emulator/reset');
    expect(h.emu.store.listKeys({ includeDisabled: true })).toEqual([]);
    expect(Math.abs(h.emu.clock.now() - Date.now())).toBeLessThan(5_000);
  });

  it('keeps unknown paths and methods out with OpenRouter-shaped errors', async () => {
    expect((await h.raw('GET', '/api/v1/nope', { key: h.mk })).status).toBe(404);
    const m = await h.raw('PUT', '/api/v1/keys', { key: h.mk });
    expect(m.status).toBe(405);
    expect(m.headers['allow']).toContain('GET');
  });

  it('never logs a key string', async () => {
    const k = await h.createKey();
    await h.raw('POST', '/api/v1/chat/completions', { key: k.key, body: { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] } });
    expect(h.logs.length).toBeGreaterThan(0);
    expect(h.logs.join('')).not.toMatch(/sk-or-v1-[0-9a-f]{10}/);
  });
});

describe('state file', () => {
  it('survives a restart: keys, usage and the ability to authenticate, without storing key strings', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'teamkeys-emu-'));
    const stateFile = join(dir, 'state.json');
    const first = await startEmulator({ stateFile });
    const k = await first.createKey({ name: 'persisted', limit: 4 });
    await first.raw('POST', `/_emulator/keys/${k.hash}/spend`, { body: { usd: 1 } });
    await first.emu.stop();
    const text = await readFile(stateFile, 'utf8');
    expect(text).not.toContain(k.key);
    const second = new Emulator({ managementKeys: [first.mk], stateFile });
    const url = await second.start();
    const r = await fetch(`${url}/api/v1/key`, { headers: { authorization: `Bearer ${k.key}` } });
    expect(await r.json()).toMatchObject({ data: { usage: 1, limit_remaining: 3 } });
    await second.stop();
  });
});
