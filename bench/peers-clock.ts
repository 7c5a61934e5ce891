/**
 * measure.ts's readyClock for any kind with a Ready condition: from each object's create call returning to its
 * stored Ready=True lastTransitionTime, read by listing (paged). A watch, tried as a second clock, went quiet during
 * a fast 1,000-object burst, as measure.ts says of 10,000 members.
 */
import type { CustomObjectsApi } from '@kubernetes/client-node';
import type { ReadyClock } from './measure.ts';

export interface Kind { group: string; version: string; plural: string }

interface Stored { metadata?: { name?: string }; status?: { conditions?: { type: string; status: string; lastTransitionTime?: string }[] } }

/** ESO writes its lastTransitionTime in whole seconds (teamkeys in milliseconds): its times are up to 1 s early. */
export function conditionClock(custom: CustomObjectsApi, kind: Kind, namespace: string): ReadyClock & { count(): Promise<number> } {
  const created = new Map<string, number>();
  const ready = new Map<string, number>();
  const list = async (each: (o: Stored) => void) => {
    let _continue: string | undefined;
    do {
      const page = (await custom.listNamespacedCustomObject({ ...kind, namespace, limit: 500, ...(_continue ? { _continue } : {}) })) as { items: Stored[]; metadata?: { continue?: string } };
      page.items.forEach(each);
      _continue = page.metadata?.continue || undefined;
    } while (_continue);
  };
  return {
    created: (name) => void created.set(name, Date.now()),
    collect: async () => {
      await list((o) => {
        const at = o.status?.conditions?.find((c) => c.type === 'Ready' && c.status === 'True')?.lastTransitionTime;
        if (at && o.metadata?.name) ready.set(o.metadata.name, Date.parse(at));
      });
      return ready.size;
    },
    count: async () => {
      let n = 0;
      await list(() => void n++);
      return n;
    },
    latencies: () => [...created].flatMap(([name, at]) => (ready.has(name) ? [(ready.get(name) ?? at) - at] : [])),
    firstCreated: () => (created.size ? Math.min(...created.values()) : undefined),
    lastReady: () => (ready.size ? Math.max(...ready.values()) : undefined),
  };
}
