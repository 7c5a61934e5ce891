import { setTimeout as sleep } from 'node:timers/promises';
import type { Clock } from '../util/clock.ts';

/** Offboarding (delete, disable) is urgent: it is served before anything that queued in the normal lane. */
export type Lane = 'urgent' | 'normal';

interface Waiter {
  resolve: () => void;
  reject: (e: unknown) => void;
  signal: AbortSignal | undefined;
}

/**
 * One token bucket shared by every OpenRouter call of the process, so a thousand members reconciling at once
 * cannot stampede the API. A 429's Retry-After pauses the whole bucket, not just the call that got it. Waiters
 * are served in arrival order within a lane, the urgent lane first: a storm of creations never delays an
 * offboarding by more than one call.
 */
export class RateLimiter {
  private tokens: number;
  private last: number;
  private pausedUntil = 0;
  private readonly rate: number;
  private readonly burst: number;
  private readonly clock: Clock;
  private readonly lanes: Record<Lane, Waiter[]> = { urgent: [], normal: [] };
  private pumping = false;
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
        this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
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
