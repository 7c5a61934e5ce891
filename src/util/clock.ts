/** Time is injected everywhere so tests can drive it; production uses the system clock. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/**
 * Elapsed real time, for what runs on real timers (the work queue's delays and backoff): a domain clock moved by
 * a test, or stepped by NTP, must not make a delay already scheduled look due or far away.
 */
export const monotonicClock: Clock = { now: () => performance.now() };

/** The real clock shifted by an offset: it keeps ticking after being set, as a demo needs. */
export class OffsetClock implements Clock {
  private offset = 0;
  private readonly base: Clock;
  constructor(base: Clock = systemClock) {
    this.base = base;
  }
  now(): number {
    return this.base.now() + this.offset;
  }
  set(at: number): void {
    this.offset = at - this.base.now();
  }
  advance(ms: number): void {
    this.offset += ms;
  }
  reset(): void {
    this.offset = 0;
  }
}
