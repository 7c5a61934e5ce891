import { z } from 'zod';

/**
 * OpenRouter's own rate limit on the management API, as the emulator enforces it when a test or a benchmark asks:
 * a token bucket (`perSecond`, holding `burst`, one second's worth by default) on real elapsed time; a call that
 * finds it empty is answered 429 with a Retry-After in whole seconds, as OpenRouter answers.
 */
export const RateLimitSchema = z.object({
  perSecond: z.number().positive().max(100_000),
  burst: z.int().positive().max(100_000).optional(),
});
export type RateLimitSettings = z.infer<typeof RateLimitSchema>;

export class ManagementRateLimit {
  private settings: RateLimitSettings | undefined;
  private tokens = 0;
  private last = 0;

  set(s: RateLimitSettings | undefined): void {
    this.settings = s;
    this.tokens = s ? (s.burst ?? Math.max(1, Math.ceil(s.perSecond))) : 0;
    this.last = performance.now();
  }

  get current(): RateLimitSettings | undefined {
    return this.settings;
  }

  /** undefined: the call may go; otherwise the Retry-After, in seconds. */
  take(): number | undefined {
    const s = this.settings;
    if (!s) return undefined;
    const now = performance.now();
    const burst = s.burst ?? Math.max(1, Math.ceil(s.perSecond));
    this.tokens = Math.min(burst, this.tokens + ((now - this.last) / 1000) * s.perSecond);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return undefined;
    }
    return Math.max(1, Math.ceil((1 - this.tokens) / s.perSecond));
  }
}

/**
 * OpenRouter's quota on the analytics API: `perMinute` requests in a fixed window (a minute, shorter for tests) of real time for the
 * whole account. Every analytics answer carries X-RateLimit-Limit, -Remaining and -Reset (the window's end, epoch
 * milliseconds on the emulator's clock); a 429 carries Retry-After only when asked, as OpenRouter sends it only
 * sometimes.
 */
export class WindowRateLimit {
  private windowStart = performance.now();
  private used = 0;

  /** headers for the answer, or the 429 to answer with */
  take(perMinute: number | null, now: number, retryAfter: boolean, windowMs = 60_000): { ok: true; headers: Record<string, string> } | { ok: false; headers: Record<string, string> } {
    if (perMinute === null) return { ok: true, headers: {} };
    const t = performance.now();
    if (t - this.windowStart >= windowMs) {
      this.windowStart = t;
      this.used = 0;
    }
    const leftMs = Math.max(0, windowMs - (t - this.windowStart));
    const allowed = this.used < perMinute;
    if (allowed) this.used++;
    const headers: Record<string, string> = {
      'x-ratelimit-limit': String(perMinute),
      'x-ratelimit-remaining': String(Math.max(0, perMinute - this.used)),
      'x-ratelimit-reset': String(Math.ceil(now + leftMs)),
    };
    if (!allowed && retryAfter) headers['retry-after'] = String(Math.max(1, Math.ceil(leftMs / 1000)));
    return { ok: allowed, headers };
  }

  reset(): void {
    this.windowStart = performance.now();
    this.used = 0;
  }
}
