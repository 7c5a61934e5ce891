/** The operator's periodic tasks: each runs once at a time (a slow run is not stacked), and none after stop(). */
import type { Logger } from 'pino';
import { errorMessage } from '../util/errors.ts';

export class Periodic {
  private readonly log: Logger;
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;

  constructor(log: Logger) {
    this.log = log;
  }

  /** Runs again after stop() (a fresh prepare): tasks added before stay cleared. */
  resume(): void {
    this.stopped = false;
  }

  every(ms: number, fn: () => Promise<void>): void {
    let running = false;
    const t = setInterval(() => {
      if (running || this.stopped) return;
      running = true;
      fn().catch((e: unknown) => this.log.warn({ err: errorMessage(e) }, 'periodic task failed')).finally(() => {
        running = false;
      });
    }, ms);
    t.unref();
    this.timers.push(t);
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }
}
