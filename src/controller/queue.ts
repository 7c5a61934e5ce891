import type { Clock } from '../util/clock.ts';

export interface QueueOptions {
  workers: number;
  /** the time its timers run on: real elapsed time (monotonicClock), not the domain clock */
  clock: Clock;
  /** per-key exponential backoff for retries */
  baseDelayMs?: number;
  maxDelayMs?: number;
}

const MAX_DELAY_MS = 12 * 3_600_000;

export type Handler = (key: string) => Promise<{ requeueAfterMs?: number | undefined; retry?: boolean }>;

/**
 * A keyed work queue with client-go's semantics: a key waits in the queue at most once; it never runs on two
 * workers at once; a key added while it runs is marked dirty and runs again afterwards; retries back off
 * exponentially per key until forgotten; addAfter schedules a later run.
 */
export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly running = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly failures = new Map<string, number>();
  private readonly backoffUntil = new Map<string, number>();
  private readonly o: Required<QueueOptions>;
  private waiters: (() => void)[] = [];
  private stopping = false;
  private workers: Promise<void>[] = [];

  constructor(opts: QueueOptions) {
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
   * Queues the key. An urgent key (a deletion, a spec change: what a person asked for) skips its backoff and
   * goes to the front of the queue; its failure count stays, so failing again backs off further.
   */
  add(key: string, urgent = false): void {
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

  /**
   * Ends a key's backoff now and queues it, behind what people asked for. Its failure count stays, so a key that
   * fails again backs off further.
   */
  release(key: string): void {
    if (this.backoffUntil.delete(key)) {
      const t = this.timers.get(key);
      if (t) clearTimeout(t.timer);
      this.timers.delete(key);
    }
    this.add(key);
  }

  /** Milliseconds until the key's failure backoff ends (0: not backing off). */
  backoffLeft(key: string): number {
    return Math.max(0, (this.backoffUntil.get(key) ?? 0) - this.o.clock.now());
  }

  /**
   * Runs the key after a delay; an earlier pending schedule wins. Delays are capped at 12 h: Node's timers
   * overflow past 24.8 days and would fire at once, turning a far-away expiry into a hot loop.
   */
  addAfter(key: string, requestedMs: number): void {
    if (this.stopping) return;
    const ms = Math.min(requestedMs, MAX_DELAY_MS);
    if (ms <= 0) return this.add(key);
    const at = this.o.clock.now() + ms;
    const existing = this.timers.get(key);
    if (existing && existing.at <= at) return;
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.backoffUntil.delete(key);
      this.add(key);
    }, ms);
    timer.unref();
    this.timers.set(key, { at, timer });
  }

  addRateLimited(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    const delay = Math.min(this.o.maxDelayMs, this.o.baseDelayMs * 2 ** n);
    this.addAfter(key, delay);
    this.backoffUntil.set(key, this.o.clock.now() + delay);
    return delay;
  }

  forget(key: string): void {
    this.failures.delete(key);
    this.backoffUntil.delete(key);
  }

  start(handler: Handler, onError: (key: string, err: unknown) => void): void {
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

  private async work(handler: Handler, onError: (key: string, err: unknown) => void): Promise<void> {
    for (;;) {
      const key = await this.next();
      if (key === undefined) return;
      try {
        const r = await handler(key);
        if (r.retry) this.addRateLimited(key);
        else {
          this.forget(key);
          if (r.requeueAfterMs !== undefined) this.addAfter(key, r.requeueAfterMs);
        }
      } catch (err) {
        onError(key, err);
        this.addRateLimited(key);
      } finally {
        this.running.delete(key);
        if (this.dirty.delete(key)) this.add(key);
      }
    }
  }
}
