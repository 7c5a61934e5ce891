/**
 * The operator's API clients share their connections to the API server (src/kube/pool.ts): a burst of calls opens
 * one TLS connection, not one per call, and every client of one KubeConfig uses the same pool.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { AppsV1Api, CoreV1Api } from '@kubernetes/client-node';
import { afterEach, expect, it } from 'vitest';
import { apiClient } from '../../src/kube/pool.ts';
import { freshNamespace, kubeConfig } from './kube.ts';

let connections = 0;
const counted = (): void => {
  connections++;
};
afterEach(() => unsubscribe('undici:client:connected', counted));

it('reuses one connection for a burst of calls from every client of one kubeconfig', async () => {
  const kc = kubeConfig();
  const ns = await freshNamespace(kc, 'pool');
  const core = apiClient(kc, CoreV1Api);
  const apps = apiClient(kc, AppsV1Api);
  await core.listNamespacedSecret({ namespace: ns }); // the first call connects
  subscribe('undici:client:connected', counted);
  connections = 0;
  for (let i = 0; i < 10; i++) await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: `c${i}` } } });
  await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? core.readNamespacedConfigMap({ namespace: ns, name: `c${i % 10}` }) : apps.listNamespacedDeployment({ namespace: ns }))));
  expect(connections).toBe(0);
  // client-node's own clients open a connection per call: the contrast that makes the count above mean something
  const plain = kc.makeApiClient(CoreV1Api);
  for (let i = 0; i < 3; i++) await plain.readNamespacedConfigMap({ namespace: ns, name: 'c0' });
  expect(connections).toBe(3);
});
