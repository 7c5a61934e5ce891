/**
 * Pure: an outage's backoff must not outlast the outage. A member held back by OpenRouter's own trouble (5xx,
 * 429, a cut connection) waits out a growing backoff, up to 5 minutes; once OpenRouter has answered without
 * trouble for QUIET_MS, every such member is due again at once (the rate limiter still paces them).
 */
import type { Clock } from '../util/clock.ts';
import { workItemKey, type WorkItem } from './workitem.ts';

const QUIET_MS = 10_000;

export class OpenRouterRecovery {
  /** by queue key: an item held twice is released once */
  private readonly waiting = new Map<string, WorkItem>();
  private lastTrouble = Number.NEGATIVE_INFINITY;
  private readonly clock: Clock;

  constructor(clock: Clock) {
    this.clock = clock;
  }

  /** A reconcile of `item` failed because OpenRouter was unavailable. */
  held(item: WorkItem): void {
    this.waiting.set(workItemKey(item), item);
    this.lastTrouble = this.clock.now();
  }

  /**
   * A reconcile of `item` ends in a retry with backoff for another reason (a create whose answer was lost, its key
   * revoked): held too while OpenRouter is in trouble, since that is what made it fail.
   */
  retried(item: WorkItem): void {
    if (this.clock.now() - this.lastTrouble < QUIET_MS) this.waiting.set(workItemKey(item), item);
  }

  /** Every OpenRouter answer (its status, or 'error' when none came); returns the items to run again now. */
  answered(code: number | 'error'): WorkItem[] {
    if (code === 'error' || code === 429 || code >= 500) {
      this.lastTrouble = this.clock.now();
      return [];
    }
    if (this.waiting.size === 0 || this.clock.now() - this.lastTrouble < QUIET_MS) return [];
    const due = [...this.waiting.values()];
    this.waiting.clear();
    return due;
  }
}
