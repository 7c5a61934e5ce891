/**
 * Pure: at most `perMinute` events in any 60 seconds (a sliding window, not a bucket: a bucket that starts full
 * lets a burst and then its refill through in the same minute), on time the caller passes in. It starts from the
 * times of recent events, so a new leader does not let a second burst through. An event "in the future" (a clock
 * that stepped back, a time written on a workload by hand) counts as happening now: it holds its room for a minute
 * from now, never longer.
 */
export const MINUTE_MS = 60_000;

export class MinuteWindow {
  readonly perMinute: number;
  /** when each event of the last minute happened, oldest first */
  private readonly times: number[];

  constructor(perMinute: number, recent: readonly number[] = []) {
    this.perMinute = perMinute;
    this.times = recent.toSorted((a, b) => a - b);
  }

  /** How many more may happen at `now`. */
  available(now: number): number {
    for (let i = this.times.length - 1; i >= 0 && (this.times[i] ?? 0) > now; i--) this.times[i] = now;
    while (this.times.length > 0 && (this.times[0] ?? 0) <= now - MINUTE_MS) this.times.shift();
    return Math.max(0, this.perMinute - this.times.length);
  }

  /** Counts one at `now`, if the window has room. */
  take(now: number): boolean {
    if (this.available(now) < 1) return false;
    this.times.push(now);
    return true;
  }

  /** The event taken at `at` did not happen after all (its restart was not needed): its room comes back. */
  give(at: number): void {
    const i = this.times.lastIndexOf(at);
    if (i >= 0) this.times.splice(i, 1);
  }
}
