/**
 * Pure: a token bucket that refills at `perMinute` and holds at most a minute's worth, on time the caller passes
 * in (an injected clock's reading). A clock that steps back refills nothing and takes nothing away.
 */
export class TokenBucket {
  readonly perMinute: number;
  private tokens: number;
  private at: number;

  /** `tokens`: how many it holds at `now` (default: full) */
  constructor(perMinute: number, now: number, tokens = perMinute) {
    this.perMinute = perMinute;
    this.tokens = Math.min(perMinute, Math.max(0, tokens));
    this.at = now;
  }

  /** Tokens held at `now`, fractions included. */
  available(now: number): number {
    if (now > this.at) {
      this.tokens = Math.min(this.perMinute, this.tokens + ((now - this.at) * this.perMinute) / 60_000);
      this.at = now;
    }
    return this.tokens;
  }

  /** Takes one token if a whole one is there. */
  take(now: number): boolean {
    if (this.available(now) < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Gives back a token taken for nothing. */
  give(now: number): void {
    this.tokens = Math.min(this.perMinute, this.available(now) + 1);
  }

  /** A bucket as it stands `sinceLast` ms after it was last emptied (undefined: never used, full). */
  static after(perMinute: number, now: number, sinceLast: number | undefined): TokenBucket {
    return new TokenBucket(perMinute, now, sinceLast === undefined ? perMinute : (Math.max(0, sinceLast) * perMinute) / 60_000);
  }
}
