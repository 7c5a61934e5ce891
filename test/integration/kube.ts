import { randomBytes } from 'node:crypto';
import { CoreV1Api, CustomObjectsApi, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';

/** Request options for a JSON merge patch (client-node defaults to JSON patch). */
export const MERGE = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
import { inject } from 'vitest';

export function kubeConfig(): KubeConfig {
  return kubeConfigAt(inject('kubeconfigPath'));
}

export function kubeConfigAt(path: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return kc;
}

/** A fresh namespace per test file keeps tests on the shared control plane apart. */
export async function freshNamespace(kc: KubeConfig, prefix: string): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name } } });
  return name;
}

export async function eventually<T>(fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
}

/** True once the read answers 404; any other failure (a 429 while the API server's cache reinitialises) is not gone. */
export function isGone(read: () => Promise<unknown>): Promise<true | undefined> {
  return read().then(() => undefined, (e: { code?: number }) => (e.code === 404 ? true : undefined));
}

interface MemberView {
  metadata: { name: string; finalizers?: string[] };
  status?: { conditions?: { type: string; status: string; reason: string; message: string }[] } & Record<string, unknown>;
}

export async function getMember(kc: KubeConfig, namespace: string, name: string): Promise<MemberView> {
  return (await kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', namespace, plural: 'teammembers', name })) as MemberView;
}

/** Waits until the member shows the condition (Ready=True by default) and returns it. */
export function memberCondition(kc: KubeConfig, namespace: string, name: string, type = 'Ready', status = 'True', timeoutMs = 60_000): Promise<MemberView> {
  return eventually(async () => {
    const m = await getMember(kc, namespace, name);
    return m.status?.conditions?.some((c) => c.type === type && c.status === status) ? m : undefined;
  }, timeoutMs, `${namespace}/${name} ${type}=${status}`);
}
