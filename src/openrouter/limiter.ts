import { setTimeout as sleep } from 'node:timers/promises';
import type { Clock } from '../util/clock.ts';

/**
 * One token bucket shared by every OpenRouter call of the process, so a thousand members reconciling at once
 * cannot stampede the API. A 429's Retry-After pauses the whole bucket, not just the call that got it.
 */
export class RateLimiter {
  private tokens: number;
  private last: number;
  private pausedUntil = 0;
  private readonly rate: number;
  private readonly burst: number;
  private readonly clock: Clock;
  private queue: Promise<void> = Promise.resolve();
  /** total time callers spent waiting, for the metrics */
  waitedMs = 0;

  constructor(perSecond: number, burst: number, clock: Clock) {
    this.rate = perSecond;
    this.burst = burst;
    this.tokens = burst;
    this.clock = clock;
    this.last = clock.now();
  }

  pauseFor(ms: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, this.clock.now() + ms);
  }

  /** Resolves when the caller may make one call; callers are served in arrival order. */
  acquire(signal?: AbortSignal): Promise<void> {
    const turn = this.queue.then(() => this.take(signal));
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  private async take(signal?: AbortSignal): Promise<void> {
    for (;;) {
      const now = this.clock.now();
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
      this.last = now;
      const wait = Math.max(this.pausedUntil - now, this.tokens >= 1 ? 0 : ((1 - this.tokens) / this.rate) * 1000);
      if (wait <= 0) {
        this.tokens -= 1;
        return;
      }
      this.waitedMs += wait;
      await sleep(Math.ceil(wait), undefined, { signal });
    }
  }
}
