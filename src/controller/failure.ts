/**
 * What a reconcile's end means for the work queue, decided in one place: a thrown error becomes a Result by its
 * kind (failureResult), and a Result, or an error nothing absorbed, becomes what the queue does with the item next
 * (requeue, as controller-runtime's reconcileHandler).
 */
import type { Logger } from 'pino';
import { KubeError } from '../kube/errors.ts';
import { OpenRouterError } from '../openrouter/errors.ts';
import { Deposed, errorMessage } from '../util/errors.ts';
import { workItemKey, type WorkItem } from './workitem.ts';

/** How a reconcile ended: done, due again after a delay, or retried after the item's growing backoff. */
export type Result = { requeueAfterMs?: number; retry?: boolean };

export type Failure =
  | 'stale' // a conflict or a vanished object: retry with backoff from a fresh read, quietly
  | 'deposed' // this replica no longer leads: drop it, the next leader does it
  | 'credentials' // OpenRouter refused the management key: recheck it, come back later
  | 'transient' // OpenRouter unavailable (5xx, 429, network): retry with backoff
  | 'error'; // anything else: logged, retried with backoff

/** Pure: the kind of a reconcile's failure. */
export function classifyFailure(e: unknown): Failure {
  if (e instanceof KubeError && (e.kind === 'conflict' || e.kind === 'notFound')) return 'stale';
  if (e instanceof Deposed) return 'deposed';
  if (e instanceof OpenRouterError && (e.kind === 'unauthorized' || e.kind === 'forbidden')) return 'credentials';
  if (e instanceof OpenRouterError && e.transient) return 'transient';
  return 'error';
}

/** How long an item OpenRouter refused for the management key waits: the key is rechecked meanwhile. */
const CREDENTIALS_WAIT_MS = 30_000;

/** What some failures do besides their Result. */
export interface FailureHooks {
  log: Logger;
  /** OpenRouter refused the management key: check it again now, so no other reconcile keeps using it */
  recheckCredentials: () => Promise<void>;
  /** OpenRouter was unavailable: the item is due again as soon as OpenRouter answers cleanly (recovery.ts) */
  held: (item: WorkItem) => void;
}

/** A failed reconcile as a Result; an error of no known kind is thrown again (logged, retried with backoff). */
export async function failureResult(e: unknown, item: WorkItem, h: FailureHooks): Promise<Result> {
  switch (classifyFailure(e)) {
    case 'stale':
      return { retry: true };
    case 'deposed':
      return {};
    case 'credentials':
      await h.recheckCredentials();
      return { requeueAfterMs: CREDENTIALS_WAIT_MS };
    case 'transient':
      h.log.info({ item: workItemKey(item), err: errorMessage(e) }, 'OpenRouter unavailable; retrying');
      h.held(item);
      return { retry: true };
    case 'error':
      throw e;
  }
}

/** How a reconcile ended, as the queue saw it: its Result, or what it threw. */
export type Ended = { result: Result } | { error: unknown };

/** The queue operations a finished reconcile leads to (client-go's workqueue). */
export interface Requeue<T> {
  forget(item: T): void;
  addAfter(item: T, ms: number): void;
  addRateLimited(item: T): void;
}

/**
 * As controller-runtime's reconcileHandler: an error or a retry backs off per item, growing with each failure;
 * anything else forgets the item's failures, and a requested delay schedules it again.
 */
export function requeue<T>(q: Requeue<T>, item: T, ended: Ended): void {
  if ('error' in ended || ended.result.retry) {
    q.addRateLimited(item);
    return;
  }
  q.forget(item);
  if (ended.result.requeueAfterMs !== undefined) q.addAfter(item, ended.result.requeueAfterMs);
}
