import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, type Dispatcher } from 'undici';
import type { z } from 'zod';
import type { Clock } from '../util/clock.ts';
import { OpenRouterError, goneIsDone, kindOfStatus, parseRateHeaders, parseRetryAfter, type RateHeaders } from './errors.ts';
import type { RateLimiter } from './limiter.ts';
import { Deposed } from '../util/errors.ts';
import { redact } from '../util/redact.ts';
import {
  CreatedKey, CurrentKey, Deleted, ErrorBody, KeyEnvelope, KeyList, Workspace,
  type ApiKey, type CreateKeyRequest, type UpdateKeyRequest,
} from './schemas.ts';

export interface OpenRouterClientOptions {
  /** e.g. https://openrouter.ai/api/v1 */
  baseUrl: string;
  /** read at every call, so a rotated management key is picked up without a restart */
  apiKey: () => string | undefined;
  limiter: RateLimiter;
  clock: Clock;
  dispatcher?: Dispatcher;
  /** retries of idempotent calls (GET, PUT, PATCH, DELETE) after 429, 5xx or a network error; POST is never retried */
  retries?: number;
  /** the leader's fence: writes (POST, PUT, PATCH, DELETE) are refused in this process once it returns false */
  mayWrite?: () => boolean;
  /** called once per HTTP exchange, for metrics */
  observe?: (route: string, status: number | 'error', ms: number) => void;
}

/**
 * How one call is made. A lane is a rate limiter of its own (analytics has its own quota at OpenRouter, and its
 * 429s must not slow key operations); `read` marks a POST that changes nothing, so it may be retried; `waitMaxMs`
 * is the longest a retry waits in the call (longer waits are left to the caller's backoff).
 */
export interface CallOptions {
  limiter?: RateLimiter;
  read?: boolean;
  retries?: number;
  waitMaxMs?: number;
}

/** The shortest wait after a 429, whatever its headers say. */
const MIN_429_WAIT_MS = 1_000;

/** The page size of GET /keys, fixed by OpenRouter. */
export const KEYS_PAGE_SIZE = 100;

function defaultDispatcher(): Agent {
  // undici's defaults are 300 s timeouts and an unbounded pool; neither is acceptable for a controller
  return new Agent({ connections: 16, headersTimeout: 30_000, bodyTimeout: 30_000, connectTimeout: 10_000, keepAliveTimeout: 10_000 });
}

/** OpenRouter's management API, typed and checked. */
export class OpenRouterClient {
  private readonly o: Required<Omit<OpenRouterClientOptions, 'observe' | 'mayWrite'>> & Pick<OpenRouterClientOptions, 'observe' | 'mayWrite'>;
  private readonly base: string;
  /** the last X-RateLimit-* headers seen per route, for `teamkeys doctor` */
  readonly rateHeaders = new Map<string, RateHeaders>();

  constructor(opts: OpenRouterClientOptions) {
    this.o = { dispatcher: defaultDispatcher(), retries: 2, ...opts };
    this.base = opts.baseUrl.replace(/\/+$/, '');
  }

  async close(): Promise<void> {
    await this.o.dispatcher.close();
  }

  /** A raw call for the adapters in this folder: typed, checked, rate limited and fenced like every other. */
  request<T extends z.ZodType>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', route: string, path: string, schema: T, body?: unknown, opts: CallOptions = {}): Promise<z.infer<T>> {
    return this.call(method, route, path, schema, body, opts);
  }

  private async call<T extends z.ZodType>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', route: string, path: string, schema: T, body?: unknown, opts: CallOptions = {}): Promise<z.infer<T>> {
    const writes = method !== 'GET' && !opts.read;
    if (writes && this.o.mayWrite && !this.o.mayWrite()) throw new Deposed(route);
    const attempts = method === 'POST' && !opts.read ? 1 : 1 + (opts.retries ?? this.o.retries);
    const waitMax = opts.waitMaxMs ?? 10_000;
    let last: OpenRouterError | undefined;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        return await this.once(method, route, path, schema, body, opts.limiter ?? this.o.limiter);
      } catch (e) {
        if (!(e instanceof OpenRouterError) || !e.transient || attempt === attempts) throw e;
        last = e;
        // a long wait is left to the work queue's backoff instead of holding a worker
        if ((e.retryAfterMs ?? 0) > waitMax) throw e;
        await sleep(e.retryAfterMs ?? Math.min(8_000, 250 * 2 ** attempt));
      }
    }
    throw last ?? new OpenRouterError('network', route, 'no attempt made');
  }

  private async once<T extends z.ZodType>(method: string, route: string, path: string, schema: T, body: unknown, limiter: RateLimiter): Promise<z.infer<T>> {
    const key = this.o.apiKey();
    if (!key) throw new OpenRouterError('unauthorized', route, 'no management key configured');
    await limiter.acquire(offboarding(method, body) ? 'urgent' : 'normal');
    const started = performance.now();
    let res: Dispatcher.ResponseData;
    try {
      res = await this.o.dispatcher.request({
        origin: new URL(this.base).origin,
        path: new URL(this.base).pathname + path,
        method,
        headers: {
          authorization: `Bearer ${key}`,
          'content-type': 'application/json',
          'x-openrouter-title': 'teamkeys',
        },
        body: body === undefined ? null : JSON.stringify(body),
      });
    } catch (e) {
      this.o.observe?.(route, 'error', performance.now() - started);
      const reason = e instanceof Error ? (e as Error & { code?: string }).code ?? e.name : 'error';
      throw new OpenRouterError('network', route, `request failed (${reason})`);
    }
    const text = await res.body.text().catch(() => '');
    this.o.observe?.(route, res.statusCode, performance.now() - started);
    const rate = parseRateHeaders(res.headers);
    if (rate) this.rateHeaders.set(route, rate);
    // Retry-After comes only sometimes, and as a date it is on OpenRouter's clock (its Date header), not ours;
    // X-RateLimit-Reset says when the window opens again
    const theirNow = Date.parse(String(res.headers['date'] ?? ''));
    const told = parseRetryAfter(res.headers['retry-after'], Number.isNaN(theirNow) ? this.o.clock.now() : theirNow) ?? (res.statusCode === 429 ? rate?.resetInMs : undefined);
    // a 429 always waits a little: a reset already past (or rounded to the second) must not retry at once
    const retryAfter = res.statusCode === 429 ? Math.max(MIN_429_WAIT_MS, told ?? 0) : told;
    // every answer tells its lane's limiter something: a 429 lowers the rate, anything else lets it grow
    if (res.statusCode === 429) limiter.throttled(retryAfter ?? MIN_429_WAIT_MS);
    else limiter.succeeded();
    if (res.statusCode >= 400) {
      const parsed = ErrorBody.safeParse(safeJson(text));
      const message = parsed.success ? (parsed.data.error.message ?? '') : '';
      throw new OpenRouterError(kindOfStatus(res.statusCode), route, `${res.statusCode} ${redact(message)}`.trim(), res.statusCode, retryAfter);
    }
    const json = safeJson(text);
    if (json === undefined) {
      const what = text === '' ? 'an empty body' : `a body that is not JSON (${String(res.headers['content-type'] ?? 'no content type')}, ${Buffer.byteLength(text)} bytes)`;
      throw new OpenRouterError('invalidResponse', route, `unexpected response: ${what}`, res.statusCode);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      // the field and what was wrong with it, never the value (it may be a key string)
      const issue = parsed.error.issues[0];
      throw new OpenRouterError('invalidResponse', route, `unexpected response: ${issue?.path.length ? issue.path.join('.') : 'the body'}: ${issue?.message ?? 'invalid'}`, res.statusCode);
    }
    return parsed.data;
  }

  /** GET /key: describes the key the client authenticates with. */
  async currentKey(): Promise<{ label: string; isManagementKey: boolean }> {
    const r = await this.call('GET', 'GET /key', '/key', CurrentKey);
    return { label: r.data.label, isManagementKey: r.data.is_management_key ?? r.data.is_provisioning_key ?? false };
  }

  async listKeysPage(offset: number, opts: { workspaceId?: string | undefined } = {}): Promise<ApiKey[]> {
    const q = new URLSearchParams({ offset: String(offset), include_disabled: 'true' });
    if (opts.workspaceId) q.set('workspace_id', opts.workspaceId);
    return (await this.call('GET', 'GET /keys', `/keys?${q.toString()}`, KeyList)).data;
  }

  /** Every key, disabled ones included, page by page: ceil(N/100) calls. */
  async *listKeys(opts: { workspaceId?: string | undefined } = {}): AsyncGenerator<ApiKey> {
    for (let offset = 0; ; offset += KEYS_PAGE_SIZE) {
      const page = await this.listKeysPage(offset, opts);
      yield* page;
      if (page.length < KEYS_PAGE_SIZE) return;
    }
  }

  async getKey(hash: string): Promise<ApiKey> {
    return (await this.call('GET', 'GET /keys/{hash}', `/keys/${encodeURIComponent(hash)}`, KeyEnvelope)).data;
  }

  /**
   * POST /keys. Never retried: if the answer is lost the key may exist anyway, and only the caller (which
   * recorded the key's name first) can find and revoke it.
   */
  async createKey(req: CreateKeyRequest): Promise<{ key: ApiKey; secret: string }> {
    const r = await this.call('POST', 'POST /keys', '/keys', CreatedKey, req);
    const secret = r.key ?? r.data.key;
    if (!secret) throw new OpenRouterError('invalidResponse', 'POST /keys', 'created key has no key string');
    const { key: _dropped, ...key } = r.data;
    return { key, secret };
  }

  async updateKey(hash: string, req: UpdateKeyRequest): Promise<ApiKey> {
    return (await this.call('PATCH', 'PATCH /keys/{hash}', `/keys/${encodeURIComponent(hash)}`, KeyEnvelope, req)).data;
  }

  /** DELETE /keys/{hash}; a key already gone counts as deleted. */
  deleteKey(hash: string): Promise<void> {
    return goneIsDone(this.call('DELETE', 'DELETE /keys/{hash}', `/keys/${encodeURIComponent(hash)}`, Deleted));
  }

  /** Resolves a workspace slug or id to its id. */
  async workspaceId(idOrSlug: string): Promise<string> {
    return (await this.call('GET', 'GET /workspaces/{id}', `/workspaces/${encodeURIComponent(idOrSlug)}`, Workspace)).data.id;
  }
}

/** Pages of a list endpoint that takes offset and limit (at most 100) and answers total_count. */
export async function* pages<T>(fetchPage: (offset: number, limit: number) => Promise<{ data: T[]; total_count?: number | undefined }>): AsyncGenerator<T> {
  const limit = 100;
  for (let offset = 0; ; offset += limit) {
    const page = await fetchPage(offset, limit);
    yield* page.data;
    if (page.data.length < limit || (page.total_count !== undefined && offset + limit >= page.total_count)) return;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Deleting or disabling a key: offboarding, which goes before any creation waiting for the rate limiter. */
function offboarding(method: string, body: unknown): boolean {
  return method === 'DELETE' || (method === 'PATCH' && typeof body === 'object' && body !== null && 'disabled' in body && body.disabled === true);
}
