/**
 * Bounds how many scheduled rotations are in flight at once. In flight: a member whose status shows a rotation
 * (its cached copy), or one that took a slot in the last moments and whose status the cache has not caught up with.
 */
import type { Clock } from '../util/clock.ts';

const HOLD_MS = 30_000;

export class RotationSlots {
  private readonly max: number;
  private readonly clock: Clock;
  private readonly inFlight: () => ReadonlySet<string>;
  private readonly taken = new Map<string, number>();

  constructor(max: number, clock: Clock, inFlight: () => ReadonlySet<string>) {
    this.max = max;
    this.clock = clock;
    this.inFlight = inFlight;
  }

  /** Whether `member` may start (or already holds) a scheduled rotation; takes a slot when it may. */
  take(member: string): boolean {
    const now = this.clock.now();
    for (const [m, at] of this.taken) if (now - at > HOLD_MS) this.taken.delete(m);
    const busy = new Set([...this.inFlight(), ...this.taken.keys()]);
    if (busy.has(member)) return true;
    if (busy.size >= this.max) return false;
    this.taken.set(member, now);
    return true;
  }
}
