import { STATUS_CODES, createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { OffsetClock } from '../util/clock.ts';
import { HttpError, MESSAGES, envelope } from './errors.ts';
import { Faults, type FaultAction, type Malformed } from './faults.ts';
import { ManagementRateLimit, WindowRateLimit } from './ratelimit.ts';
import { loadState, saveState } from './persist.ts';
import { match, readJson, routeId, type Reply, type Route } from './router.ts';
import { accountRoutes } from './routes/account.ts';
import { analyticsRoutes, defaultAnalyticsSettings, type AnalyticsSettings } from './routes/analytics.ts';
import { controlRoutes } from './routes/control.ts';
import { guardrailRoutes } from './routes/guardrails.ts';
import { inferenceRoutes } from './routes/inference.ts';
import { keyRoutes } from './routes/keys.ts';
import { workspaceRoutes } from './routes/workspaces.ts';
import { initialState } from './state.ts';
import { Store } from './store.ts';

export interface EmulatorOptions {
  host?: string;
  port?: number;
  /** management keys accepted from the start; their strings are held only as digests */
  managementKeys: readonly string[];
  stateFile?: string | undefined;
  totalCredits?: number;
  logger?: Logger | undefined;
  clock?: OffsetClock;
  /** told each key string the emulator issues, for tests that look for leaks; never persisted */
  onIssued?: (secret: string) => void;
}

/** A local OpenRouter: management API, a minimal inference endpoint and test controls. */
export class Emulator {
  readonly store: Store;
  readonly faults = new Faults();
  /** OpenRouter's rate limit on management calls: off unless a test or benchmark sets it */
  readonly rateLimit = new ManagementRateLimit();
  /** how analytics answers (string counts, nulls, its own quota...): the real service's way unless a test says otherwise */
  analytics: AnalyticsSettings = defaultAnalyticsSettings();
  readonly analyticsLimit = new WindowRateLimit();
  readonly clock: OffsetClock;
  private readonly routes: Route[];
  private readonly counts = new Map<string, Map<number, number>>();
  private readonly opts: EmulatorOptions;
  private server: Server | undefined;
  private saveTimer: NodeJS.Timeout | undefined;
  private saving: Promise<void> = Promise.resolve();

  constructor(opts: EmulatorOptions) {
    this.opts = opts;
    this.clock = opts.clock ?? new OffsetClock();
    this.store = new Store(this.clock, undefined, () => this.scheduleSave());
    this.store.onIssued = opts.onIssued;
    this.routes = [
      ...keyRoutes(this.store, this.faults),
      ...guardrailRoutes(this.store),
      ...accountRoutes(this.store),
      ...workspaceRoutes(this.store),
      ...analyticsRoutes({ store: this.store, settings: () => this.analytics, limit: this.analyticsLimit }),
      ...inferenceRoutes(this.store),
      ...controlRoutes({
        store: this.store,
        faults: this.faults,
        rateLimit: this.rateLimit,
        analytics: { get: () => this.analytics, set: (a) => {
          this.analytics = a;
          this.analyticsLimit.reset();
        } },
        clock: this.clock,
        counters: () => this.counters(),
        reset: () => this.reset(),
      }),
    ];
  }

  async start(): Promise<string> {
    if (this.opts.stateFile) {
      const saved = await loadState(this.opts.stateFile);
      if (saved) this.store.replace(saved);
    }
    for (const k of this.opts.managementKeys) this.store.addManagementKey(k);
    const server = createServer((req, res) => void this.serve(req, res));
    server.keepAliveTimeout = 5_000;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port ?? 0, this.opts.host ?? '127.0.0.1', () => resolve());
    });
    return this.url();
  }

  url(): string {
    const a = this.server?.address();
    if (!a || typeof a === 'string') throw new Error('emulator is not listening');
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    return `http://${host}:${a.port}`;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s) {
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
    clearTimeout(this.saveTimer);
    await this.flush();
  }

  counters(): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {};
    for (const [route, byStatus] of this.counts) out[route] = Object.fromEntries(byStatus);
    return out;
  }

  reset(): void {
    this.store.replace(initialState(this.store.nowIso(), this.opts.totalCredits));
    for (const k of this.opts.managementKeys) this.store.addManagementKey(k);
    this.faults.clear();
    this.rateLimit.set(undefined);
    this.analytics = defaultAnalyticsSettings();
    this.analyticsLimit.reset();
    this.counts.clear();
    this.clock.reset();
  }

  private scheduleSave(): void {
    if (!this.opts.stateFile || this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      void this.flush();
    }, 100);
  }

  private async flush(): Promise<void> {
    const file = this.opts.stateFile;
    if (!file) return;
    this.saving = this.saving.then(() => saveState(file, this.store.state)).catch((e: unknown) => {
      this.opts.logger?.error({ err: e }, 'failed to write state file');
    });
    await this.saving;
  }

  private count(id: string, status: number): void {
    const byStatus = this.counts.get(id) ?? new Map<number, number>();
    byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
    this.counts.set(id, byStatus);
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const url = new URL(req.url ?? '/', 'http://emulator.invalid');
    const found = match(this.routes, req.method ?? 'GET', url.pathname);
    let id = `${req.method ?? 'GET'} (unmatched)`;
    let reply: Reply;
    let cut = false;
    let malformed: Malformed | undefined;
    try {
      if (!found) throw new HttpError(404, MESSAGES.notFound);
      if ('allowed' in found) throw new HttpError(405, 'Method not allowed', { allow: found.allowed.join(', ') });
      const { route, params } = found;
      id = routeId(route);
      const wait = route.control || route.auth !== 'management' ? undefined : this.rateLimit.take();
      if (wait !== undefined) throw new HttpError(429, MESSAGES.rateLimited, { 'retry-after': String(wait) });
      const before = route.control ? undefined : this.faults.before(id);
      if (before && (await this.applyFault(before, res))) {
        cut = true;
        reply = { status: 0, body: null };
      } else {
        reply = await this.run(route, params, req, url);
        const after = route.control ? undefined : this.faults.after(id);
        // a failing "after" fault throws like any error, so the committed change is answered with that failure
        if (after?.kind === 'malformed') {
          malformed = after.answer;
          if (after.latencyMs > 0) await sleep(after.latencyMs);
        }
        else if (after && (await this.applyFault(after, res))) cut = true;
      }
    } catch (e) {
      reply = toReply(e);
    }
    this.count(id, cut ? 0 : reply.status);
    this.opts.logger?.info({ route: id, host: req.headers.host, status: cut ? 'cut' : reply.status, ms: Math.round(performance.now() - started) }, 'request');
    if (cut) return;
    const body = malformed ? malform(reply.body, malformed) : JSON.stringify(reply.body);
    const type = malformed === 'notJson' ? 'text/html' : 'application/json';
    // Date on OpenRouter's clock (the emulator's): a client measures X-RateLimit-Reset against it, never its own
    res.writeHead(reply.status, { 'content-type': type, 'content-length': Buffer.byteLength(body), date: new Date(this.clock.now()).toUTCString(), ...reply.headers });
    res.end(body);
  }

  /** Applies a fault decision; returns true when the connection was cut (nothing more may be written). */
  private async applyFault(action: FaultAction, res: ServerResponse): Promise<boolean> {
    if (action.latencyMs > 0) await sleep(action.latencyMs);
    switch (action.kind) {
      case 'none':
        return false;
      case 'cut':
        res.socket?.destroy();
        return true;
      case 'error':
        throw new HttpError(action.status, action.status === 500 ? MESSAGES.internal : action.status === 408 ? MESSAGES.timedOut : (STATUS_CODES[action.status] ?? 'Error'));
      case 'rateLimit':
        throw new HttpError(429, MESSAGES.rateLimited, { 'retry-after': String(action.retryAfterSeconds) });
      case 'malformed':
        return false; // applied to the body as it is written
    }
  }

  private async run(route: Route, params: Record<string, string>, req: IncomingMessage, url: URL): Promise<Reply> {
    let key;
    if (route.auth !== 'none') {
      key = this.store.authenticate(bearer(req));
      if (route.auth === 'management' && !key.management) throw new HttpError(403, MESSAGES.managementOnly);
      if (route.auth === 'member' && key.management) throw new HttpError(403, 'Management keys cannot be used for inference');
    }
    return route.handle({ req, url, params, key, json: () => readJson(req) });
  }
}

function bearer(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (!h) return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(h.trim());
  return m?.[1]?.trim() || undefined;
}

function toReply(e: unknown): Reply {
  if (e instanceof HttpError) return { status: e.status, body: envelope(e.status, e.message), headers: e.headers };
  return { status: 500, body: envelope(500, MESSAGES.internal) };
}

/** The committed answer's body, broken the way a faulty proxy or a changed API would break it. */
function malform(body: unknown, how: Malformed): string {
  const json = JSON.stringify(body);
  switch (how) {
    case 'notJson':
      return '<html><body><h1>502 Bad Gateway</h1></body></html>';
    case 'truncated':
      return json.slice(0, Math.floor(json.length / 2));
    case 'empty':
      return '';
    case 'wrongTypes':
      return JSON.stringify(body, (_k, v: unknown) => (typeof v === 'number' || typeof v === 'boolean' ? String(v) : v));
    case 'missingFields': {
      const emptied = (v: unknown) => (Array.isArray(v) ? v.map(() => ({})) : typeof v === 'object' && v !== null ? {} : v);
      return JSON.stringify(typeof body === 'object' && body !== null ? Object.fromEntries(Object.entries(body).map(([k, v]) => [k, k === 'data' ? emptied(v) : v])) : body);
    }
    case 'nullData':
      return JSON.stringify(typeof body === 'object' && body !== null ? { ...body, data: null } : body);
  }
}
