/** What a scale run measures: per-member apply->Ready from the stored status, the operator process's RSS and CPU, its metrics. */
import { readFile } from 'node:fs/promises';
import type { CustomObjectsApi } from '@kubernetes/client-node';
import { GROUP, VERSION } from '../src/api/schema.ts';

export interface ReadyClock {
  /** called as each member's create call returns: its own creation, by this process's clock */
  created(name: string): void;
  /** Lists the namespace (paged) and counts the members whose Ready condition is True. */
  collect(): Promise<number>;
  /** ms from each member's creation to the Ready=True transition stored in its status, in creation order */
  latencies(): number[];
  firstCreated(): number | undefined;
  lastReady(): number | undefined;
}

interface Member { metadata?: { name?: string }; status?: { conditions?: { type: string; status: string; lastTransitionTime?: string }[] } }

/**
 * Per-member apply->Ready from what the API server stores, not from a watch: a bench client watching 10,000
 * members during their burst fell behind (the watch went quiet and never caught up). Ready's lastTransitionTime is
 * written with milliseconds by the operator as it decides the status (same machine, same clock), so it is a few ms
 * earlier than the write becoming visible.
 */
export function readyClock(custom: CustomObjectsApi, namespace: string): ReadyClock {
  const created = new Map<string, number>();
  const ready = new Map<string, number>();
  return {
    created: (name) => void created.set(name, Date.now()),
    collect: async () => {
      let _continue: string | undefined;
      do {
        const page = (await custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: 'teammembers', limit: 500, ...(_continue ? { _continue } : {}) })) as { items: Member[]; metadata?: { continue?: string } };
        for (const m of page.items) {
          const at = m.status?.conditions?.find((c) => c.type === 'Ready' && c.status === 'True')?.lastTransitionTime;
          if (at && m.metadata?.name) ready.set(m.metadata.name, Date.parse(at));
        }
        _continue = page.metadata?.continue || undefined;
      } while (_continue);
      return ready.size;
    },
    latencies: () => [...created].flatMap(([name, at]) => (ready.has(name) ? [(ready.get(name) ?? at) - at] : [])),
    firstCreated: () => (created.size ? [...created.values()].reduce((a, b) => Math.min(a, b)) : undefined),
    lastReady: () => (ready.size ? [...ready.values()].reduce((a, b) => Math.max(a, b)) : undefined),
  };
}

/** RSS (bytes) and CPU seconds of a process, from /proc. */
export async function procStats(pid: number): Promise<{ rssBytes: number; rssFileBytes: number; rssAnonBytes: number; cpuSeconds: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
  const stat = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]?.split(' ') ?? [];
  // fields 14 and 15 (utime, stime) counted from the state field, which is field 3
  const ticks = Number(stat[11] ?? 0) + Number(stat[12] ?? 0);
  // the RSS split as the kernel counts it: pages of files (the Node binary's, mostly) and anonymous pages
  return { rssBytes: kb('VmRSS') * 1024, rssFileBytes: kb('RssFile') * 1024, rssAnonBytes: kb('RssAnon') * 1024, cpuSeconds: ticks / 100 };
}

/** Sums the samples of one metric (all label sets) from a Prometheus text page. */
export function metricSum(text: string, name: string, labelFilter?: (labels: string) => boolean): number {
  let sum = 0;
  for (const m of text.matchAll(new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`, 'gm'))) {
    if (labelFilter && !labelFilter(m[1] ?? '')) continue;
    sum += Number(m[2]);
  }
  return sum;
}
