import { setTimeout as sleep } from 'node:timers/promises';
import type { Clock } from '../util/clock.ts';
import { AdaptiveRate } from './adaptive.ts';

/** Offboarding (delete, disable) is urgent: it is served before anything that queued in the normal lane. */
export type Lane = 'urgent' | 'normal';

interface Waiter {
  resolve: () => void;
  reject: (e: unknown) => void;
  signal: AbortSignal | undefined;
}

/**
 * One token bucket shared by every OpenRouter call of the process, so a thousand members reconciling at once
 * cannot stampede the API. Its rate is found from OpenRouter's answers (adaptive.ts), at most the configured
 * ceiling; a 429's Retry-After pauses the whole bucket, not just the call that got it, and empties it. Waiters
 * are served in arrival order within a lane, the urgent lane first: a storm of creations never delays an
 * offboarding by more than one call. It runs on elapsed time (a monotonic clock), not the domain clock.
 */
export class RateLimiter {
  private tokens: number;
  private last: number;
  private pausedUntil = 0;
  private readonly adaptive: AdaptiveRate;
  private readonly burst: number;
  private readonly clock: Clock;
  private readonly lanes: Record<Lane, Waiter[]> = { urgent: [], normal: [] };
  private pumping = false;
  /** total time callers spent waiting, for the metrics */
  waitedMs = 0;

  /** `perSecond` is the ceiling: the rate starts there and never goes above it */
  constructor(perSecond: number, burst: number, clock: Clock) {
    this.adaptive = new AdaptiveRate({ ceiling: perSecond });
    this.burst = burst;
    this.tokens = burst;
    this.clock = clock;
    this.last = clock.now();
  }

  pauseFor(ms: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, this.clock.now() + ms);
  }

  /** The calls per second allowed now. */
  get rate(): number {
    return this.adaptive.rate;
  }

  /** 429s seen and rate cuts made, for the metrics. */
  get throttles(): { seen: number; cuts: number } {
    return { seen: this.adaptive.throttles, cuts: this.adaptive.cuts };
  }

  /** OpenRouter answered without a 429: the rate may grow. */
  succeeded(): void {
    this.adaptive.succeeded(this.clock.now(), this.lanes.urgent.length + this.lanes.normal.length > 0 || this.tokens < 1);
  }

  /** OpenRouter answered 429: pause for Retry-After, empty the bucket, and lower the rate. */
  throttled(retryAfterMs: number): void {
    const now = this.clock.now();
    this.adaptive.throttled(now, retryAfterMs);
    this.tokens = 0;
    this.last = now;
    this.pauseFor(retryAfterMs);
  }

  /** Resolves when the caller may make one call. */
  acquire(lane: Lane = 'normal', signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.lanes[lane].push({ resolve, reject, signal });
      void this.pump();
    });
  }

  private next(): Waiter | undefined {
    return this.lanes.urgent.shift() ?? this.lanes.normal.shift();
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.lanes.urgent.length > 0 || this.lanes.normal.length > 0) {
        const now = this.clock.now();
        this.tokens = Math.min(this.burst, this.tokens + (Math.max(0, now - this.last) / 1000) * this.rate);
        this.last = now;
        const wait = Math.max(this.pausedUntil - now, this.tokens >= 1 ? 0 : ((1 - this.tokens) / this.rate) * 1000);
        if (wait > 0) {
          this.waitedMs += wait * (this.lanes.urgent.length + this.lanes.normal.length);
          await sleep(Math.ceil(wait));
          continue;
        }
        const w = this.next();
        if (!w) break;
        if (w.signal?.aborted) {
          w.reject(w.signal.reason);
          continue;
        }
        this.tokens -= 1;
        w.resolve();
      }
    } finally {
      this.pumping = false;
    }
  }
}
