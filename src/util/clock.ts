/** Time is injected everywhere so tests can drive it; production uses the system clock. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock tests move by hand. */
export class FakeClock implements Clock {
  private t: number;
  constructor(start: number | string = '2026-01-05T00:00:00Z') {
    this.t = typeof start === 'string' ? Date.parse(start) : start;
  }
  now(): number {
    return this.t;
  }
  set(at: number | string): void {
    this.t = typeof at === 'string' ? Date.parse(at) : at;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

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
