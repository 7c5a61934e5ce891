/** Pure: what a failed reconcile means for the work queue, decided once for every kind of error. */
import { KubeError } from '../kube/errors.ts';
import { OpenRouterError } from '../openrouter/errors.ts';
import { Deposed } from '../util/errors.ts';

export type Failure =
  | 'stale' // a conflict or a vanished object: retry with backoff from a fresh read, quietly
  | 'deposed' // this replica no longer leads: drop it, the next leader does it
  | 'credentials' // OpenRouter refused the management key: recheck it, come back later
  | 'transient' // OpenRouter unavailable (5xx, 429, network): retry with backoff
  | 'error'; // anything else: logged, retried with backoff

export function classifyFailure(e: unknown): Failure {
  if (e instanceof KubeError && (e.kind === 'conflict' || e.kind === 'notFound')) return 'stale';
  if (e instanceof Deposed) return 'deposed';
  if (e instanceof OpenRouterError && (e.kind === 'unauthorized' || e.kind === 'forbidden')) return 'credentials';
  if (e instanceof OpenRouterError && e.transient) return 'transient';
  return 'error';
}
