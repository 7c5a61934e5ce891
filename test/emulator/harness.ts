import { Writable } from 'node:stream';
import { pino } from 'pino';
import { request } from 'undici';
import { expect } from 'vitest';
import { Emulator, type EmulatorOptions } from '../../src/emulator/server.ts';
import { newSecret } from '../../src/emulator/state.ts';
import { OpenRouterClient } from '../../src/openrouter/client.ts';
import { RateLimiter } from '../../src/openrouter/limiter.ts';
import { systemClock } from '../../src/util/clock.ts';
import { validateResponse } from './openapi.ts';

export interface CallOptions {
  key?: string | undefined;
  body?: unknown;
  rawBody?: string;
  params?: Record<string, string>;
  query?: Record<string, string>;
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

/** An in-process emulator, a management key, captured logs, and a caller that validates every OpenRouter answer. */
export async function startEmulator(opts: Partial<EmulatorOptions> = {}) {
  const mk = newSecret();
  const logs: string[] = [];
  const sink = new Writable({ write(chunk: Buffer, _enc, cb) { logs.push(chunk.toString()); cb(); } });
  const emu = new Emulator({ managementKeys: [mk], logger: pino({ level: 'info' }, sink), ...opts });
  const base = await emu.start();

  async function raw(method: string, path: string, o: CallOptions = {}): Promise<Answer> {
    const url = new URL(base + path.replace(/\{(\w+)\}/g, (_m, p: string) => encodeURIComponent(o.params?.[p] ?? '')));
    for (const [k, v] of Object.entries(o.query ?? {})) url.searchParams.set(k, v);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (o.key !== undefined) headers['authorization'] = `Bearer ${o.key}`;
    const payload = o.rawBody ?? (o.body === undefined ? undefined : JSON.stringify(o.body));
    const r = await request(url, { method: method as 'GET', headers, body: payload });
    const text = await r.body.text();
    return { status: r.statusCode, headers: r.headers, body: text ? (JSON.parse(text) as unknown) : undefined };
  }

  /** Calls `/api/v1` + path (an OpenAPI path template) and asserts the answer matches the official document. */
  async function api(method: string, path: string, o: CallOptions = {}): Promise<Answer> {
    const a = await raw(method, `/api/v1${path}`, o);
    const verdict = validateResponse(method, path, a.status, a.body);
    expect(verdict.errors, `${method} ${path} -> ${a.status}: ${JSON.stringify(a.body)}`).toEqual([]);
    return a;
  }

  async function createKey(body: Record<string, unknown> = {}): Promise<{ hash: string; key: string; data: Record<string, unknown> }> {
    const a = await api('POST', '/keys', { key: mk, body: { name: 'k', ...body } });
    expect(a.status).toBe(201);
    const b = a.body as { key: string; data: Record<string, unknown> & { hash: string } };
    return { hash: b.data.hash, key: b.key, data: b.data };
  }

  /** A test control of the emulator (under /_emulator), asserted to succeed. */
  async function control(method: string, path: string, body?: unknown): Promise<unknown> {
    const a = await raw(method, `/_emulator${path}`, { body });
    expect(a.status, JSON.stringify(a.body)).toBe(200);
    return a.body;
  }

  const clients: OpenRouterClient[] = [];
  /** The project's client with the management key, on a lane wide enough not to pace tests; closed by stop(). */
  function client(): OpenRouterClient {
    const c = new OpenRouterClient({ baseUrl: `${base}/api/v1`, apiKey: () => mk, limiter: new RateLimiter(1000, 1000, systemClock), clock: systemClock });
    clients.push(c);
    return c;
  }

  async function stop(): Promise<void> {
    await Promise.all(clients.map((c) => c.close()));
    await emu.stop();
  }

  return { emu, base, mk, logs, raw, api, createKey, control, client, stop };
}

export type Harness = Awaited<ReturnType<typeof startEmulator>>;

export function errorOf(a: Answer): { code: number; message: string } {
  return (a.body as { error: { code: number; message: string } }).error;
}
