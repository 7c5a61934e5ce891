/**
 * The queue's handler: each work item goes to its entry by kind, timed and counted per resource, and what it
 * throws is decided by the failure policy (failure.ts). Nothing here knows how an item is spelled as a key.
 */
import type { Logger } from 'pino';
import type { Metrics } from '../metrics/metrics.ts';
import { monotonicClock } from '../util/clock.ts';
import { errorMessage } from '../util/errors.ts';
import { failureResult, type FailureHooks, type Result } from './failure.ts';
import { MemberEntry, type MemberWiring } from './member/entry.ts';
import { PolicyEntry, type PolicyWiring } from './policy/entry.ts';
import type { WorkQueue } from './queue.ts';
import { OpenRouterRecovery } from './recovery.ts';
import { resourceOf, workItemKey, type WorkItem } from './workitem.ts';
import { WorkloadEntry, type WorkloadWiring } from './workloadentry.ts';

export interface Entries {
  member: Pick<MemberEntry, 'reconcile'>;
  policy: Pick<PolicyEntry, 'reconcile' | 'deleteStrayGuardrails'>;
  workload: Pick<WorkloadEntry, 'reconcile'>;
}

/** The entries, built once from the operator's parts when it knows its id and HMAC key. */
export function entriesFor(w: MemberWiring & PolicyWiring & WorkloadWiring): Entries {
  return { member: new MemberEntry(w), policy: new PolicyEntry(w), workload: new WorkloadEntry(w) };
}

export interface DispatchDeps {
  queue: Pick<WorkQueue<WorkItem>, 'release'>;
  /** the informer caches: an empty cache would read as "no policy", "no Secret" */
  synced: () => boolean;
  metrics: Pick<Metrics, 'reconciles' | 'reconcileDuration'>;
  log: Logger;
  /** OpenRouter refused the management key: check it again now */
  recheckCredentials: () => Promise<void>;
}

export class Dispatcher {
  /** reconciles started (the benchmark and tests read it) */
  count = 0;
  /** undefined until the operator is prepared: a reconcile then fails (and is retried) */
  entries: Entries | undefined;
  private readonly d: DispatchDeps;
  /** items held back by OpenRouter's trouble, due again once it answers cleanly (elapsed time, as the queue) */
  private readonly recovery = new OpenRouterRecovery(monotonicClock);
  private readonly failure: FailureHooks;

  constructor(d: DispatchDeps) {
    this.d = d;
    this.failure = { log: d.log, recheckCredentials: d.recheckCredentials, held: (item) => this.recovery.held(item) };
  }

  /** Every OpenRouter answer (its status, or 'error'): once it answers cleanly again, what its trouble held runs now. */
  answered(code: number | 'error'): void {
    for (const item of this.recovery.answered(code)) this.d.queue.release(item);
  }

  async handle(item: WorkItem): Promise<Result> {
    const resource = resourceOf(item);
    const end = this.d.metrics.reconcileDuration.startTimer({ resource });
    try {
      const r = await this.reconcile(item);
      if (r.retry) this.recovery.retried(item);
      this.d.metrics.reconciles.inc({ resource, result: r.retry ? 'retry' : r.requeueAfterMs !== undefined ? 'requeue' : 'done' });
      return r;
    } catch (e) {
      this.d.metrics.reconciles.inc({ resource, result: 'error' });
      throw e;
    } finally {
      end();
    }
  }

  /** The queue's onError: a failure of no known kind, retried with backoff. */
  failed(item: WorkItem, err: unknown): void {
    this.d.log.warn({ item: workItemKey(item), err: errorMessage(err) }, 'reconcile failed; retrying with backoff');
  }

  private async reconcile(item: WorkItem): Promise<Result> {
    this.count++;
    if (!this.d.synced()) return { requeueAfterMs: 1_000 };
    try {
      return await this.route(item);
    } catch (e) {
      return await failureResult(e, item, this.failure);
    }
  }

  private route(item: WorkItem): Promise<Result> {
    const e = this.entries;
    if (!e) throw new Error('operator not started');
    switch (item.kind) {
      case 'member':
        return e.member.reconcile(item.namespace, item.name);
      case 'policy':
        return e.policy.reconcile(item.name);
      case 'strayGuardrails':
        return e.policy.deleteStrayGuardrails();
      case 'workload':
        return e.workload.reconcile(item.workload, item.namespace, item.name);
    }
  }
}
