import type { Clock } from '../util/clock.ts';
import { requeue, type Ended, type Result } from './failure.ts';

/** How the queue tells items apart: items with one key are one item (dedup, backoff, schedules). */
export interface Codec<T> {
  encode: (item: T) => string;
  decode: (key: string) => T;
}

export interface QueueOptions<T> {
  workers: number;
  /** the time its timers run on: real elapsed time (monotonicClock), not the domain clock */
  clock: Clock;
  codec: Codec<T>;
  /** per-key exponential backoff for retries */
  baseDelayMs?: number;
  maxDelayMs?: number;
}

const MAX_DELAY_MS = 12 * 3_600_000;

/** A reconcile: its Result, or a throw (logged by onError, retried with backoff); see failure.ts requeue. */
export type Handler<T> = (item: T) => Promise<Result>;

/**
 * A keyed work queue with client-go's semantics: an item waits in the queue at most once; it never runs on two
 * workers at once; an item added while it runs is marked dirty and runs again afterwards; retries back off
 * exponentially per item until forgotten; addAfter schedules a later run. Items are kept as their keys (the codec).
 */
export class WorkQueue<T> {
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly running = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly failures = new Map<string, number>();
  private readonly backoffUntil = new Map<string, number>();
  /** per throttled key: when its last run was (or is scheduled) to be queued */
  private readonly throttledAt = new Map<string, number>();
  private readonly o: Required<QueueOptions<T>>;
  /** what a finished reconcile leads to, on keys (failure.ts requeue decides which) */
  private readonly keyed = {
    forget: (key: string) => this.forgetKey(key),
    addAfter: (key: string, ms: number) => this.addAfterKey(key, ms),
    addRateLimited: (key: string) => this.addRateLimitedKey(key),
  };
  private waiters: (() => void)[] = [];
  private stopping = false;
  private workers: Promise<void>[] = [];

  constructor(opts: QueueOptions<T>) {
    this.o = { baseDelayMs: 500, maxDelayMs: 300_000, ...opts };
  }

  get depth(): number {
    return this.queue.length;
  }

  get busy(): number {
    return this.running.size;
  }

  /** nothing queued, running or scheduled to run within `withinMs` */
  idle(withinMs = 0): boolean {
    const soon = this.o.clock.now() + withinMs;
    return this.queue.length === 0 && this.running.size === 0 && [...this.timers.values()].every((t) => t.at > soon);
  }

  /**
   * Queues the item. An urgent one (a deletion, a spec change: what a person asked for) skips its backoff and
   * goes to the front of the queue; its failure count stays, so failing again backs off further.
   */
  add(item: T, urgent = false): void {
    this.addKey(this.o.codec.encode(item), urgent);
  }

  /**
   * Ends an item's backoff now and queues it, behind what people asked for. Its failure count stays, so an item
   * that fails again backs off further.
   */
  release(item: T): void {
    const key = this.o.codec.encode(item);
    if (this.backoffUntil.delete(key)) {
      const t = this.timers.get(key);
      if (t) clearTimeout(t.timer);
      this.timers.delete(key);
    }
    this.addKey(key);
  }

  /** Milliseconds until the item's failure backoff ends (0: not backing off). */
  backoffLeft(item: T): number {
    return Math.max(0, (this.backoffUntil.get(this.o.codec.encode(item)) ?? 0) - this.o.clock.now());
  }

  /**
   * Runs the item after a delay; an earlier pending schedule wins. Delays are capped at 12 h: Node's timers
   * overflow past 24.8 days and would fire at once, turning a far-away expiry into a hot loop.
   */
  addAfter(item: T, requestedMs: number): void {
    this.addAfterKey(this.o.codec.encode(item), requestedMs);
  }

  /**
   * Queues the item at most once per window: the first add of a quiet item queues it now, the adds within the
   * window after that queue it once at the window's end. For work that reads the whole fleet (a policy's status)
   * and is woken by every member event: a burst of N members costs N/window runs of it, not N.
   */
  addThrottled(item: T, windowMs: number): void {
    const key = this.o.codec.encode(item);
    const now = this.o.clock.now();
    // backing off after a failure: its retry runs it (reading the latest state); a window must not cut it short
    if ((this.backoffUntil.get(key) ?? 0) > now) return;
    const last = this.throttledAt.get(key);
    if (last === undefined || now - last >= windowMs) {
      this.throttledAt.set(key, now);
      this.addKey(key);
      return;
    }
    if (last > now) return; // its run at the window's end is scheduled already
    this.throttledAt.set(key, last + windowMs);
    this.addAfterKey(key, last + windowMs - now);
  }

  /** Lets go of what the queue keeps of an item that is gone for good (its throttle window). */
  drop(item: T): void {
    this.throttledAt.delete(this.o.codec.encode(item));
  }

  /** Runs the item after its backoff, which doubles with each failure until forgotten; returns the delay. */
  addRateLimited(item: T): number {
    return this.addRateLimitedKey(this.o.codec.encode(item));
  }

  forget(item: T): void {
    this.forgetKey(this.o.codec.encode(item));
  }

  start(handler: Handler<T>, onError: (item: T, err: unknown) => void): void {
    this.stopping = false;
    for (let i = 0; i < this.o.workers; i++) this.workers.push(this.work(handler, onError));
  }

  /** Stops taking work and waits for running handlers, up to the deadline. */
  async shutdown(deadlineMs: number): Promise<void> {
    this.stopping = true;
    for (const t of this.timers.values()) clearTimeout(t.timer);
    this.timers.clear();
    for (const w of this.waiters.splice(0)) w();
    await Promise.race([Promise.all(this.workers), new Promise((r) => setTimeout(r, deadlineMs).unref())]);
    this.workers = [];
  }

  private addKey(key: string, urgent = false): void {
    if (this.stopping) return;
    if (urgent && this.backoffUntil.delete(key)) {
      const t = this.timers.get(key);
      if (t) clearTimeout(t.timer);
      this.timers.delete(key);
    }
    // a key backing off after a failure runs when its delay ends (reading the latest state then): events,
    // often caused by its own writes, must not turn the backoff into an immediate retry loop
    if ((this.backoffUntil.get(key) ?? 0) > this.o.clock.now()) return;
    if (this.running.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) {
      if (urgent) this.queue.unshift(...this.queue.splice(this.queue.indexOf(key), 1));
      return;
    }
    this.queued.add(key);
    if (urgent) this.queue.unshift(key);
    else this.queue.push(key);
    this.waiters.shift()?.();
  }

  private addAfterKey(key: string, requestedMs: number): void {
    if (this.stopping) return;
    const ms = Math.min(requestedMs, MAX_DELAY_MS);
    if (ms <= 0) return this.addKey(key);
    const at = this.o.clock.now() + ms;
    const existing = this.timers.get(key);
    if (existing && existing.at <= at) return;
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.backoffUntil.delete(key);
      this.addKey(key);
    }, ms);
    timer.unref();
    this.timers.set(key, { at, timer });
  }

  private addRateLimitedKey(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    const delay = Math.min(this.o.maxDelayMs, this.o.baseDelayMs * 2 ** n);
    this.addAfterKey(key, delay);
    this.backoffUntil.set(key, this.o.clock.now() + delay);
    return delay;
  }

  private forgetKey(key: string): void {
    this.failures.delete(key);
    this.backoffUntil.delete(key);
  }

  private async next(): Promise<string | undefined> {
    while (!this.stopping) {
      const key = this.queue.shift();
      if (key !== undefined) {
        // marked running in the same synchronous step it leaves the queue: an add() arriving while the
        // caller's await resumes must see it as running, or a second worker would take it too
        this.queued.delete(key);
        this.running.add(key);
        return key;
      }
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    return undefined;
  }

  private async work(handler: Handler<T>, onError: (item: T, err: unknown) => void): Promise<void> {
    for (;;) {
      const key = await this.next();
      if (key === undefined) return;
      try {
        requeue(this.keyed, key, await this.run(key, handler, onError));
      } finally {
        this.running.delete(key);
        if (this.dirty.delete(key)) this.addKey(key);
      }
    }
  }

  private async run(key: string, handler: Handler<T>, onError: (item: T, err: unknown) => void): Promise<Ended> {
    const item = this.o.codec.decode(key);
    try {
      return { result: await handler(item) };
    } catch (error) {
      onError(item, error);
      return { error };
    }
  }
}
