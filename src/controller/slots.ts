/**
 * Bounds how many scheduled rotations are in flight at once. In flight: a member whose cached status shows a
 * rotation, or one that took a slot moments ago and whose status the cache has not caught up with yet. Members
 * turned away are remembered, so they can be woken when a rotation ends instead of polling.
 */
import type { Clock } from '../util/clock.ts';

/** How long a slot taken is held for a member whose cached status does not show its rotation yet. */
const HOLD_MS = 30_000;

export class RotationSlots {
  private readonly max: number;
  private readonly clock: Clock;
  private readonly inFlight: () => ReadonlySet<string>;
  private readonly taken = new Map<string, number>();
  private readonly waiting = new Set<string>();

  constructor(max: number, clock: Clock, inFlight: () => ReadonlySet<string>) {
    this.max = max;
    this.clock = clock;
    this.inFlight = inFlight;
  }

  /** Whether `member` may start (or already holds) a scheduled rotation; takes a slot when it may. */
  take(member: string): boolean {
    const now = this.clock.now();
    const flying = this.inFlight();
    // once the cache shows a rotation it is counted from there; a hold the cache never confirmed expires
    for (const [m, at] of this.taken) if (flying.has(m) || now - at > HOLD_MS) this.taken.delete(m);
    const busy = new Set([...flying, ...this.taken.keys()]);
    if (busy.has(member)) return true;
    if (busy.size >= this.max) {
      this.waiting.add(member);
      return false;
    }
    this.waiting.delete(member);
    this.taken.set(member, now);
    return true;
  }

  /** A rotation ended: the members turned away may try again (each is returned once). */
  wake(): string[] {
    const all = [...this.waiting];
    this.waiting.clear();
    return all;
  }
}
