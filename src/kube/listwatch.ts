/**
 * An informer: lists a resource (paged), keeps it in a cache, and watches it from the list's resourceVersion,
 * telling its handlers about every add, update and delete. A watch the server ends is started again from the last
 * version seen (bookmarks keep it current); a version too old (410 Gone) lists again; any other failure stops it
 * and says so ('error'), for kube/informer.ts to start it again later. Every object is made lean before it is
 * cached: `metadata.managedFields` and kubectl's last-applied annotation (a second copy of the spec) were most of
 * a TeamMember's bytes, and no decision reads them.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { KubeError } from './errors.ts';
import type { KubeHttp, WatchEvent } from './http.ts';
import { shared } from '../util/intern.ts';

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';
const PAGE = 500;

export type Verb = 'add' | 'update' | 'delete';

/** What kube/informer.ts drives. */
export interface Informer<T> {
  start(): Promise<void>;
  stop(): Promise<void>;
  list(namespace?: string): T[];
  get(name: string, namespace?: string): T | undefined;
  on(verb: Verb, cb: (obj: T) => void): void;
  on(verb: 'error', cb: (err: unknown) => void): void;
}

interface ListPage<T> {
  metadata?: { resourceVersion?: string; continue?: string };
  items?: T[];
}

/**
 * Drops what no decision reads, and shares the strings objects repeat (util/intern.ts). The metadata (and
 * annotations) are built again without those fields rather than deleted from: a `delete` turns an object into a
 * slow dictionary, about 450 bytes more each (measured).
 */
export function lean<T extends KubernetesObject>(obj: T): T {
  const meta = obj.metadata;
  if (!meta) return shared.strings(obj);
  const { managedFields: _managed, annotations, ...rest } = meta;
  let kept = annotations;
  if (annotations?.[LAST_APPLIED] !== undefined) {
    const { [LAST_APPLIED]: _applied, ...others } = annotations;
    kept = others;
  }
  obj.metadata = kept === undefined ? rest : { ...rest, annotations: kept };
  return shared.strings(obj);
}

/** The watch ended with 410 Gone: the version it started from is older than the server keeps. */
class Gone extends Error {}

/** A watch that ends within this without an event is a failure (client-go's rule), not a normal end: backoff. */
const SHORT_WATCH_MS = 1_000;

export class ListWatch<T extends KubernetesObject> implements Informer<T> {
  private readonly http: KubeHttp;
  private readonly path: string;
  private readonly labelSelector: string | undefined;
  /** what is cached instead of the object (e.g. its parsed form, so no second copy is kept beside it) */
  private readonly keep: (o: T) => T;
  /** by namespace ('' for cluster-scoped objects), then name */
  private readonly cache = new Map<string, Map<string, T>>();
  private readonly handlers: Record<Verb, ((obj: T) => void)[]> = { add: [], update: [], delete: [] };
  private readonly errorHandlers: ((err: unknown) => void)[] = [];
  private resourceVersion = '';
  private abort: AbortController | undefined;

  constructor(http: KubeHttp, path: string, labelSelector?: string, keep: (o: T) => T = (o) => o) {
    this.http = http;
    this.path = path;
    this.labelSelector = labelSelector;
    this.keep = keep;
  }

  on(verb: Verb, cb: (obj: T) => void): void;
  on(verb: 'error', cb: (err: unknown) => void): void;
  on(verb: Verb | 'error', cb: ((obj: T) => void) | ((err: unknown) => void)): void {
    if (verb === 'error') this.errorHandlers.push(cb as (err: unknown) => void);
    else this.handlers[verb].push(cb);
  }

  list(namespace?: string): T[] {
    if (namespace !== undefined) return [...(this.cache.get(namespace)?.values() ?? [])];
    return [...this.cache.values()].flatMap((m) => [...m.values()]);
  }

  get(name: string, namespace?: string): T | undefined {
    return this.cache.get(namespace ?? '')?.get(name);
  }

  /** Lists (the cache then matches the server), and watches from there in the background. */
  async start(): Promise<void> {
    this.abort?.abort();
    const abort = new AbortController();
    this.abort = abort;
    await this.relist(abort.signal);
    void this.watchLoop(abort);
  }

  async stop(): Promise<void> {
    this.abort?.abort();
    this.abort = undefined;
  }

  private async relist(signal: AbortSignal): Promise<void> {
    const seen = new Map<string, Map<string, T>>();
    let cont: string | undefined;
    let rv = '';
    do {
      const page = await this.http.json<ListPage<T>>({ method: 'GET', path: this.path, query: { limit: PAGE, continue: cont, labelSelector: this.labelSelector } });
      if (signal.aborted) return;
      for (const item of page.items ?? []) {
        const o = this.keep(lean(item));
        const ns = o.metadata?.namespace ?? '';
        let m = seen.get(ns);
        if (!m) seen.set(ns, (m = new Map()));
        m.set(o.metadata?.name ?? '', o);
      }
      cont = page.metadata?.continue || undefined;
      rv = page.metadata?.resourceVersion ?? rv;
    } while (cont);
    // the cache becomes the listing, and the handlers hear what changed since the last one
    for (const [ns, m] of this.cache) {
      for (const [name, old] of m) if (!seen.get(ns)?.has(name)) this.fire('delete', old);
    }
    const before = new Map(this.cache);
    this.cache.clear();
    for (const [ns, m] of seen) {
      this.cache.set(ns, m);
      for (const [name, o] of m) {
        const old = before.get(ns)?.get(name);
        if (!old) this.fire('add', o);
        else if (old.metadata?.resourceVersion !== o.metadata?.resourceVersion) this.fire('update', o);
      }
    }
    this.resourceVersion = rv;
  }

  private async watchLoop(abort: AbortController): Promise<void> {
    while (!abort.signal.aborted) {
      try {
        // client-go's spread: watches of many informers do not all end at once
        const timeoutSeconds = 300 + Math.floor(Math.random() * 300);
        const began = performance.now();
        let events = 0;
        await this.http.watch(this.path, { resourceVersion: this.resourceVersion, allowWatchBookmarks: true, labelSelector: this.labelSelector, timeoutSeconds }, (e) => {
          events++;
          this.apply(e);
        }, abort.signal);
        if (events === 0 && performance.now() - began < SHORT_WATCH_MS) throw new Error('the watch ended at once, with no event');
      } catch (e) {
        if (abort.signal.aborted) return;
        let failure: unknown = e;
        if (e instanceof Gone || (e instanceof KubeError && e.status === 410)) {
          try {
            await this.relist(abort.signal);
            continue;
          } catch (err) {
            failure = err;
          }
        }
        if (abort.signal.aborted) return;
        this.abort = undefined;
        for (const cb of this.errorHandlers) cb(failure);
        return;
      }
    }
  }

  private apply(e: WatchEvent): void {
    if (e.type === 'ERROR') {
      const status = e.object as { code?: number; message?: string };
      if (status.code === 410) throw new Gone(status.message ?? 'resource version too old');
      throw new KubeError('other', status.code ?? 0, status.message ?? 'watch error');
    }
    const o = e.object as T;
    const rv = o.metadata?.resourceVersion;
    if (rv) this.resourceVersion = rv;
    if (e.type === 'BOOKMARK') return;
    const ns = o.metadata?.namespace ?? '';
    const name = o.metadata?.name ?? '';
    let m = this.cache.get(ns);
    if (e.type === 'DELETED') {
      if (m?.delete(name)) this.fire('delete', o);
      return;
    }
    if (!m) this.cache.set(ns, (m = new Map()));
    const had = m.has(name);
    const kept = this.keep(lean(o));
    m.set(name, kept);
    this.fire(had ? 'update' : 'add', kept);
  }

  private fire(verb: Verb, o: T): void {
    for (const cb of this.handlers[verb]) cb(o);
  }
}
