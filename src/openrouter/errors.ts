/**
 * Every way an OpenRouter call can fail, as one union. Messages carry the route and OpenRouter's own error
 * message, never a request header or body, so a key string cannot leak through an error.
 */
export type OpenRouterErrorKind =
  | 'badRequest' // 400: our request was wrong
  | 'unauthorized' // 401: key unknown, deleted, disabled or expired
  | 'forbidden' // 403: not a management key
  | 'notFound' // 404
  | 'timeout' // 408: the query took too long on OpenRouter's side; a narrower one may succeed
  | 'rateLimited' // 429: honour retryAfterMs
  | 'server' // 5xx
  | 'network' // connection refused/reset/cut, or a timeout: the call may or may not have taken effect
  | 'invalidResponse'; // a 2xx body we could not understand

export class OpenRouterError extends Error {
  readonly kind: OpenRouterErrorKind;
  readonly status: number | undefined;
  readonly route: string;
  readonly retryAfterMs: number | undefined;

  constructor(kind: OpenRouterErrorKind, route: string, message: string, status?: number, retryAfterMs?: number) {
    super(`OpenRouter ${route}: ${message}`);
    this.name = 'OpenRouterError';
    this.kind = kind;
    this.route = route;
    this.status = status;
    this.retryAfterMs = retryAfterMs;
  }

  /** Worth retrying later: the failure was not caused by the request itself. */
  get transient(): boolean {
    return this.kind === 'rateLimited' || this.kind === 'server' || this.kind === 'network';
  }
}

export function kindOfStatus(status: number): OpenRouterErrorKind {
  if (status === 400 || status === 422) return 'badRequest';
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'notFound';
  if (status === 408) return 'timeout';
  if (status === 429) return 'rateLimited';
  return status >= 500 ? 'server' : 'badRequest';
}

/** Retry-After is seconds or an HTTP date; returns milliseconds, or undefined when absent or unreadable. */
export function parseRetryAfter(value: string | string[] | undefined, now: number): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.trim() === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(v.trim())) return Math.round(Number(v) * 1000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Narrows an unknown error to an OpenRouterError of one kind (as isKube does for the API server). */
export function isOpenRouter(e: unknown, kind: OpenRouterErrorKind): e is OpenRouterError {
  return e instanceof OpenRouterError && e.kind === kind;
}

/**
 * A listing scoped to a named workspace that OpenRouter does not know (deleted since, or one another account's
 * operator recorded in a shared policy's status): it holds nothing of ours, and must not fail the listing of the others.
 */
export function unknownWorkspace(e: unknown): boolean {
  return isOpenRouter(e, 'notFound') || isOpenRouter(e, 'badRequest');
}

/** A delete whose target is already gone has done its job: its 404 is swallowed, every other failure is not. */
export async function goneIsDone(deletion: Promise<unknown>): Promise<void> {
  try {
    await deletion;
  } catch (e) {
    if (!isOpenRouter(e, 'notFound')) throw e;
  }
}

/** What OpenRouter's X-RateLimit-* headers said about one answer. */
export interface RateHeaders {
  limit: number | undefined;
  remaining: number | undefined;
  /** how long until the window resets, measured on OpenRouter's own clock; undefined when not given */
  resetInMs: number | undefined;
}

const WINDOW_MAX_MS = 3_600_000;
const WINDOW_ASSUMED_MS = 60_000;

/**
 * X-RateLimit-Reset may be an epoch in milliseconds or seconds, or seconds from now. An epoch is compared with the
 * answer's own Date header (OpenRouter's clock), never with ours: a skewed clock here must not turn a one-minute
 * window into an hour's wait or no wait at all. Without a Date header an epoch cannot be read: a window's length
 * (a minute) is assumed.
 */
export function parseRateHeaders(h: Record<string, string | string[] | undefined>): RateHeaders | undefined {
  const one = (name: string) => {
    const v = h[name];
    const s = Array.isArray(v) ? v[0] : v;
    return s === undefined || s.trim() === '' || !Number.isFinite(Number(s)) ? undefined : Number(s);
  };
  const limit = one('x-ratelimit-limit');
  const remaining = one('x-ratelimit-remaining');
  const reset = one('x-ratelimit-reset');
  if (limit === undefined && remaining === undefined && reset === undefined) return undefined;
  let resetInMs: number | undefined;
  if (reset !== undefined) {
    if (reset < 1e6) resetInMs = reset * 1000;
    else {
      const at = reset < 1e11 ? reset * 1000 : reset;
      const dated = Date.parse(String(Array.isArray(h['date']) ? h['date'][0] : (h['date'] ?? '')));
      resetInMs = Number.isNaN(dated) ? WINDOW_ASSUMED_MS : at - dated;
    }
    resetInMs = Math.min(WINDOW_MAX_MS, Math.max(0, Math.round(resetInMs)));
  }
  return { limit, remaining, resetInMs };
}
