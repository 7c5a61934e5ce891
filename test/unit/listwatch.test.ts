/** The operator's informer: paged lists, watch events, a relist after 410 Gone, and what it tells its handlers. */
import type { KubernetesObject } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { KubeError } from '../../src/kube/errors.ts';
import type { KubeHttp, KubeRequest, WatchEvent } from '../../src/kube/http.ts';
import { ListWatch } from '../../src/kube/listwatch.ts';

const obj = (name: string, rv: string, extra: Record<string, unknown> = {}): KubernetesObject => ({
  apiVersion: 'v1', kind: 'Thing',
  metadata: { name, namespace: 'ns', resourceVersion: rv, managedFields: [{ manager: 'kubectl' }], annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}', keep: 'me' }, ...extra },
});

/** A fake API server: lists answer from `items` in pages; each watch plays the next script, then ends. */
class FakeHttp {
  items: KubernetesObject[] = [];
  rv = '10';
  lists: { continue?: string | undefined; limit?: number | undefined }[] = [];
  watches: { resourceVersion: string }[] = [];
  scripts: (WatchEvent[] | Error)[] = [];
  private idle: (() => void)[] = [];

  async json<T>(r: KubeRequest): Promise<T> {
    const limit = Number(r.query?.['limit']);
    const from = Number(r.query?.['continue'] ?? 0);
    this.lists.push({ continue: r.query?.['continue'] as string | undefined, limit });
    const page = this.items.slice(from, from + limit);
    const next = from + limit < this.items.length ? String(from + limit) : undefined;
    return { metadata: { resourceVersion: this.rv, ...(next ? { continue: next } : {}) }, items: structuredClone(page) } as T;
  }

  async watch(_path: string, query: { resourceVersion?: unknown }, onEvent: (e: WatchEvent) => void, signal: AbortSignal): Promise<void> {
    this.watches.push({ resourceVersion: String(query.resourceVersion) });
    const script = this.scripts.shift();
    if (script instanceof Error) throw script;
    if (!script) {
      // no more events: the watch stays open until aborted
      await new Promise<void>((resolve) => {
        this.idle.push(resolve);
        signal.addEventListener('abort', () => resolve());
      });
      if (signal.aborted) throw new Error('aborted');
      return;
    }
    for (const e of script) onEvent(structuredClone(e));
  }
}

const settle = () => new Promise((r) => setTimeout(r, 10));

function informer(http: FakeHttp) {
  const lw = new ListWatch<KubernetesObject>(http as unknown as KubeHttp, '/api/v1/things');
  const heard: string[] = [];
  const errors: unknown[] = [];
  lw.on('add', (o) => heard.push(`add ${o.metadata?.name} ${o.metadata?.resourceVersion}`));
  lw.on('update', (o) => heard.push(`update ${o.metadata?.name} ${o.metadata?.resourceVersion}`));
  lw.on('delete', (o) => heard.push(`delete ${o.metadata?.name}`));
  lw.on('error', (e) => errors.push(e));
  return { lw, heard, errors };
}

describe('ListWatch', () => {
  it('lists in pages of 500, caches lean objects, and watches from the list\'s version', async () => {
    const http = new FakeHttp();
    http.items = Array.from({ length: 1_001 }, (_, i) => obj(`t${i}`, '5'));
    const { lw, heard } = informer(http);
    await lw.start();
    expect(http.lists.map((l) => l.continue)).toEqual([undefined, '500', '1000']);
    expect(lw.list('ns')).toHaveLength(1_001);
    expect(heard.filter((h) => h.startsWith('add'))).toHaveLength(1_001);
    const cached = lw.get('t0', 'ns');
    expect(cached?.metadata?.managedFields).toBeUndefined();
    expect(cached?.metadata?.annotations).toEqual({ keep: 'me' });
    await settle();
    expect(http.watches).toEqual([{ resourceVersion: '10' }]);
    await lw.stop();
  });

  it('applies watch events, follows bookmarks, and relists after 410 Gone, telling only what changed', async () => {
    const http = new FakeHttp();
    http.items = [obj('a', '5'), obj('b', '5')];
    http.scripts = [
      [
        { type: 'ADDED', object: obj('c', '11') },
        { type: 'MODIFIED', object: obj('a', '12') },
        { type: 'DELETED', object: obj('b', '13') },
        { type: 'BOOKMARK', object: { metadata: { resourceVersion: '20' } } },
      ],
      [{ type: 'ERROR', object: { kind: 'Status', code: 410, message: 'too old' } }],
    ];
    const { lw, heard, errors } = informer(http);
    await lw.start();
    // the relist after 410: a changed, c unchanged, d new, and b already gone
    http.rv = '30';
    http.items = [obj('a', '25'), obj('c', '11'), obj('d', '26')];
    await settle();
    expect(heard).toEqual(['add a 5', 'add b 5', 'add c 11', 'update a 12', 'delete b', 'update a 25', 'add d 26']);
    expect(http.watches.map((w) => w.resourceVersion)).toEqual(['10', '20', '30']);
    expect(lw.list().map((o) => o.metadata?.name ?? '').toSorted((x, y) => x.localeCompare(y))).toEqual(['a', 'c', 'd']);
    expect(errors).toEqual([]);
    await lw.stop();
  });

  it('stops and says so on any other failure, and a start lists again (deletions included)', async () => {
    const http = new FakeHttp();
    http.items = [obj('a', '5'), obj('b', '5')];
    http.scripts = [new KubeError('unavailable', 503, 'down')];
    const { lw, heard, errors } = informer(http);
    await lw.start();
    await settle();
    expect(errors).toHaveLength(1);
    http.items = [obj('a', '5')];
    await lw.start();
    expect(heard).toEqual(['add a 5', 'add b 5', 'delete b']);
    await lw.stop();
  });

  it('keeps what `keep` makes of each object', async () => {
    const http = new FakeHttp();
    http.items = [obj('a', '5')];
    http.scripts = [[{ type: 'MODIFIED', object: obj('a', '6') }]];
    const lw = new ListWatch<KubernetesObject>(http as unknown as KubeHttp, '/x', undefined, (o) => ({ ...o, kind: 'Kept' }));
    await lw.start();
    await settle();
    expect(lw.get('a', 'ns')).toMatchObject({ kind: 'Kept', metadata: { resourceVersion: '6' } });
    await lw.stop();
  });
});

describe('ListWatch, a watch that ends at once', () => {
  it('is a failure (backoff), not a normal end to reconnect from in a tight loop', async () => {
    const http = new FakeHttp();
    http.items = [obj('a', '5')];
    http.scripts = [[]];
    const { lw, errors } = informer(http);
    await lw.start();
    await settle();
    expect(errors).toHaveLength(1);
    expect(http.watches).toHaveLength(1);
    await lw.stop();
  });
});
