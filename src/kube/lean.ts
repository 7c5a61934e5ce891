/**
 * Informers that keep only what the operator reads. Every cached object loses `metadata.managedFields` and
 * kubectl's last-applied annotation (a second copy of the spec): together they were most of a TeamMember's bytes.
 */
import { ListWatch, Watch, type Informer, type KubeConfig, type KubernetesListObject, type KubernetesObject, type ObjectCache } from '@kubernetes/client-node';

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/** Drops what no decision reads, in place. */
function lean<T>(obj: T): T {
  if (typeof obj !== 'object' || obj === null || !('metadata' in obj)) return obj;
  const meta = (obj as KubernetesObject).metadata;
  if (!meta) return obj;
  delete meta.managedFields;
  if (meta.annotations?.[LAST_APPLIED] !== undefined) delete meta.annotations[LAST_APPLIED];
  return obj;
}

class LeanWatch extends Watch {
  override watch(path: string, params: Record<string, string | number | boolean | undefined>, callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void, done: (err: unknown) => void): Promise<AbortController> {
    return super.watch(path, params, (phase, apiObj: unknown, watchObj?: unknown) => callback(phase, lean(apiObj), watchObj), done);
  }
}

/** client-node's makeInformer, with every listed and watched object made lean before it is cached. */
export function leanInformer<T extends KubernetesObject>(kc: KubeConfig, path: string, list: () => Promise<KubernetesListObject<T>>, labelSelector?: string): Informer<T> & ObjectCache<T> {
  return new ListWatch<T>(path, new LeanWatch(kc), async () => {
    const l = await list();
    for (const item of l.items) lean(item);
    return l;
  }, false, labelSelector);
}
