/** What a scale run measures: per-member apply->Ready from the watch, the operator process's RSS and CPU, its metrics. */
import { readFile } from 'node:fs/promises';
import { Watch, type KubeConfig } from '@kubernetes/client-node';

export interface ReadyClock {
  /** ms from each member's creation (its ADDED watch event) to its first Ready=True, in creation order */
  latencies(): number[];
  ready(): number;
  firstAdded(): number | undefined;
  lastReady(): number | undefined;
  stop(): void;
}

interface Member { metadata?: { name?: string }; status?: { conditions?: { type: string; status: string }[] } }

/** Watches one namespace's TeamMembers: creation and first Ready=True, by the watch's own receive time. */
export async function watchReady(kc: KubeConfig, namespace: string): Promise<ReadyClock> {
  const added = new Map<string, number>();
  const ready = new Map<string, number>();
  const w = new Watch(kc);
  const req = await w.watch(`/apis/teamkeys.dev/v1alpha1/namespaces/${namespace}/teammembers`, {}, (type: string, obj: Member) => {
    const now = performance.now();
    const name = obj.metadata?.name ?? '';
    if (!added.has(name)) added.set(name, now);
    if (!ready.has(name) && obj.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) ready.set(name, now);
  }, () => undefined);
  return {
    latencies: () => [...ready].map(([name, at]) => at - (added.get(name) ?? at)),
    ready: () => ready.size,
    firstAdded: () => (added.size ? Math.min(...added.values()) : undefined),
    lastReady: () => (ready.size ? Math.max(...ready.values()) : undefined),
    stop: () => req.abort(),
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
