/**
 * Opted-in Argo Rollouts, watched only while the API server serves them. Without Argo installed there is nothing to
 * list, and an informer on a missing resource would fail and retry forever: so the watch exists only once discovery
 * lists rollouts.argoproj.io (looked for at start, then whenever look() is called: every minute, operator.ts, and at
 * once when the watch fails), and goes when the CRD does.
 */
import type { Logger } from 'pino';
import type { ArgoRollout, Cluster } from '../kube/cluster.ts';
import type { ResilientInformer } from '../kube/informer.ts';
import { errorMessage } from '../util/errors.ts';

type Verb = 'add' | 'update' | 'delete';

/** how often the operator looks whether Argo Rollouts were installed (or removed) */
export const ROLLOUTS_LOOK_MS = 60_000;

export class RolloutWatch {
  private readonly cluster: Cluster;
  private readonly labelSelector: string;
  private readonly log: Logger;
  private informer: ResilientInformer<ArgoRollout> | undefined;
  /** handlers, given to each informer this watch makes */
  private readonly handlers: [Verb, (o: ArgoRollout) => void][] = [];
  private running = false;
  private looking: Promise<void> | undefined;

  constructor(cluster: Cluster, labelSelector: string, log: Logger) {
    this.cluster = cluster;
    this.labelSelector = labelSelector;
    this.log = log;
  }

  /** Whether Rollouts are being watched (Argo is installed). */
  get watching(): boolean {
    return this.informer !== undefined;
  }

  on(verb: Verb, cb: (o: ArgoRollout) => void): void {
    this.handlers.push([verb, cb]);
    this.informer?.on(verb, cb);
  }

  list(namespace?: string): readonly ArgoRollout[] {
    return this.informer?.list(namespace) ?? [];
  }

  get(name: string, namespace: string): ArgoRollout | undefined {
    return this.informer?.get(name, namespace);
  }

  async start(): Promise<void> {
    this.running = true;
    await this.look();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.looking;
    const i = this.informer;
    this.informer = undefined;
    await i?.stop();
  }

  /** Looks whether Argo Rollouts are served now: starts watching them when they appeared, stops when they went. */
  look(): Promise<void> {
    this.looking ??= this.discover().finally(() => {
      this.looking = undefined;
    });
    return this.looking;
  }

  private async discover(): Promise<void> {
    if (!this.running) return;
    let served: boolean;
    try {
      served = await this.cluster.servesRollouts();
    } catch (e) {
      this.log.warn({ err: errorMessage(e) }, 'could not look for Argo Rollouts; looking again later');
      return;
    }
    if (!this.running) return;
    if (served && !this.informer) {
      const informer = this.cluster.rolloutInformer(this.labelSelector, { onError: (err, retryInMs) => this.failed(err, retryInMs) });
      for (const [verb, cb] of this.handlers) informer.on(verb, cb);
      this.informer = informer;
      this.log.info('Argo Rollouts are served: watching Rollouts labelled for restarts');
      await informer.start();
    } else if (!served && this.informer) {
      const informer = this.informer;
      this.informer = undefined;
      this.log.info('Argo Rollouts are no longer served: stopped watching Rollouts');
      await informer.stop();
    }
  }

  /** The watch stopped: the CRD may be gone (then the watch goes quietly), or it is a failure like any other. */
  private failed(err: unknown, retryInMs: number): void {
    void this.look().then(() => {
      if (this.informer) this.log.warn({ informer: 'rollouts', retryInMs, err: errorMessage(err) }, 'watch stopped; restarting');
    });
  }
}
