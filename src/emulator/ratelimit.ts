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
