/** What a scale run measures: per-member apply->Ready from the watch, the operator process's RSS and CPU, its metrics. */
import { readFile } from 'node:fs/promises';
import { CustomObjectsApi, Watch, type KubeConfig } from '@kubernetes/client-node';
import { apiClient } from '../src/kube/pool.ts';

export interface ReadyClock {
  /** ms from each member's creation (its ADDED watch event) to its first Ready=True, in creation order */
  latencies(): number[];
  ready(): number;
  firstAdded(): number | undefined;
  lastReady(): number | undefined;
  stop(): void;
}

interface Member { metadata?: { name?: string }; status?: { conditions?: { type: string; status: string }[] } }

/**
 * Watches one namespace's TeamMembers: creation and first Ready=True, by the watch's own receive time. A watch the
 * API server closes (a slow reader during a burst of 10,000) is caught up by a list, then watched on from it.
 */
export async function watchReady(kc: KubeConfig, namespace: string): Promise<ReadyClock> {
  const added = new Map<string, number>();
  const ready = new Map<string, number>();
  const path = `/apis/teamkeys.dev/v1alpha1/namespaces/${namespace}/teammembers`;
  const custom = apiClient(kc, CustomObjectsApi);
  const w = new Watch(kc);
  let stopped = false;
  let req: AbortController | undefined;
  let lastEvent = performance.now();
  const seen = (obj: Member) => {
    const now = performance.now();
    lastEvent = now;
    const name = obj.metadata?.name ?? '';
    if (!added.has(name)) added.set(name, now);
    if (!ready.has(name) && obj.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) ready.set(name, now);
  };
  const watchFrom = async (resourceVersion?: string): Promise<void> => {
    req = await w.watch(path, resourceVersion ? { resourceVersion } : {}, (_type: string, obj: Member) => seen(obj), () => {
      if (!stopped) retry();
    });
  };
  const retry = () => void catchUp().catch(() => setTimeout(retry, 1_000));
  const catchUp = async (): Promise<void> => {
    const list = (await custom.listNamespacedCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', namespace, plural: 'teammembers' })) as { items: Member[]; metadata?: { resourceVersion?: string } };
    for (const m of list.items) seen(m);
    if (!stopped) await watchFrom(list.metadata?.resourceVersion);
  };
  await watchFrom();
  // a watch can also go quiet without closing (seen at 10,000 members): 5 s without an event while members are
  // still pending catches up by a list; such a member's time is then late by at most those 5 s
  const quiet = setInterval(() => {
    if (!stopped && performance.now() - lastEvent > 5_000 && ready.size < added.size) {
      lastEvent = performance.now();
      req?.abort();
      retry();
    }
  }, 500);
  return {
    latencies: () => [...ready].map(([name, at]) => at - (added.get(name) ?? at)),
    ready: () => ready.size,
    firstAdded: () => (added.size ? Math.min(...added.values()) : undefined),
    lastReady: () => (ready.size ? Math.max(...ready.values()) : undefined),
    stop: () => {
      stopped = true;
      clearInterval(quiet);
      req?.abort();
    },
  };
}

/** RSS (bytes) and CPU seconds of a process, from /proc. */
export async function procStats(pid: number): Promise<{ rssBytes: number; cpuSeconds: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  const stat = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]?.split(' ') ?? [];
  // fields 14 and 15 (utime, stime) counted from the state field, which is field 3
  const ticks = Number(stat[11] ?? 0) + Number(stat[12] ?? 0);
  return { rssBytes: rssKb * 1024, cpuSeconds: ticks / 100 };
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
