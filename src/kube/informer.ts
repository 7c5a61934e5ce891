import type { KubernetesObject } from '@kubernetes/client-node';
import type { Informer } from './listwatch.ts';

export interface ResilientInformerOptions {
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** told about every stop, e.g. a 429 while the API server's watch cache initialises, or a dropped watch */
  onError?: (err: unknown, retryInMs: number) => void;
}

/**
 * An informer (kube/listwatch.ts) stops on any error other than 410 Gone. This wrapper starts it again with capped
 * exponential backoff (reset once a list succeeds) until stop() is called.
 */
export class ResilientInformer<T extends KubernetesObject> {
  private readonly inner: Informer<T>;
  private readonly opts: Required<Omit<ResilientInformerOptions, 'onError'>> & Pick<ResilientInformerOptions, 'onError'>;
  private backoff: number;
  private stopped = true;
  private timer: NodeJS.Timeout | undefined;
  private listed = false;
  private failed = false;

  constructor(inner: Informer<T>, opts: ResilientInformerOptions = {}) {
    this.inner = inner;
    this.opts = { minBackoffMs: opts.minBackoffMs ?? 500, maxBackoffMs: opts.maxBackoffMs ?? 30_000, onError: opts.onError };
    this.backoff = this.opts.minBackoffMs;
    inner.on('error', (err: unknown) => {
      this.failed = true;
      this.restartLater(err);
    });
  }

  /** The cached objects (of one namespace, when given). */
  list(namespace?: string): readonly T[] {
    return this.inner.list(namespace);
  }

  get(name: string, namespace?: string): T | undefined {
    return this.inner.get(name, namespace);
  }

  /** Informer callbacks only enqueue work; they are told about every add, update and delete. */
  on(verb: 'add' | 'update' | 'delete', cb: (obj: T) => void): void {
    this.inner.on(verb, cb);
  }

  /** true once a complete list has landed in the cache (start() resolved without an error in between). */
  get synced(): boolean {
    return this.listed;
  }

  async start(): Promise<void> {
    this.stopped = false;
    this.failed = false;
    try {
      await this.inner.start();
      if (!this.failed) {
        this.listed = true;
        this.backoff = this.opts.minBackoffMs;
      }
    } catch (err) {
      this.restartLater(err);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.inner.stop();
  }

  private restartLater(err: unknown): void {
    if (this.stopped || this.timer) return;
    const wait = this.backoff;
    this.backoff = Math.min(this.backoff * 2, this.opts.maxBackoffMs);
    this.opts.onError?.(err, wait);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.stopped) void this.start();
    }, wait);
  }
}
