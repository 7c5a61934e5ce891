/** Proves the test bed: a real kube-apiserver and etcd, driven through @kubernetes/client-node. */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  ApiextensionsV1Api, CoreV1Api, CustomObjectsApi, PatchStrategy, makeInformer, setHeaderOptions,
  type KubernetesObject, type KubernetesListObject,
} from '@kubernetes/client-node';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { ResilientInformer } from '../../src/kube/informer.ts';
import { eventually, freshNamespace, kubeConfig } from './kube.ts';

const run = promisify(execFile);
const group = 'testbed.teamkeys.dev';
const plural = 'widgets';

interface Widget extends KubernetesObject {
  spec?: { size?: number };
  status?: { phase?: string };
}

describe('the real control plane', () => {
  const kc = kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  let ns = '';

  beforeAll(async () => {
    ns = await freshNamespace(kc, 'testbed');
    const ext = kc.makeApiClient(ApiextensionsV1Api);
    await ext.createCustomResourceDefinition({
      body: {
        metadata: { name: `${plural}.${group}` },
        spec: {
          group, scope: 'Namespaced',
          names: { plural, singular: 'widget', kind: 'Widget' },
          versions: [{
            name: 'v1', served: true, storage: true, subresources: { status: {} },
            schema: { openAPIV3Schema: {
              type: 'object',
              properties: {
                spec: { type: 'object', properties: { size: { type: 'integer', minimum: 1 } } },
                status: { type: 'object', properties: { phase: { type: 'string' } } },
              },
            } },
          }],
        },
      },
    });
    await eventually(async () => {
      const crd = await ext.readCustomResourceDefinition({ name: `${plural}.${group}` });
      return crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') || undefined;
    }, 30_000, 'CRD Established');
  });

  it('serves a CRD with schema validation, merge patches on the object and its /status, and an informer', async () => {
    const seen: string[] = [];
    const path = `/apis/${group}/v1/namespaces/${ns}/${plural}`;
    // right after a CRD is established the API server may answer 429 while its watch cache initialises; the
    // operator's informer wrapper restarts on that, as it must on any dropped watch
    const resilient = new ResilientInformer(makeInformer<Widget>(kc, path, async () =>
      (await custom.listNamespacedCustomObject({ group, version: 'v1', namespace: ns, plural })) as KubernetesListObject<Widget>), { minBackoffMs: 100 });
    const informer = resilient.inner;
    informer.on('add', (w) => seen.push(`add:${w.metadata?.name ?? ''}`));
    informer.on('update', (w) => seen.push(`update:${w.status?.phase ?? w.spec?.size ?? ''}`));
    await resilient.start();
    await eventually(() => resilient.synced || undefined, 20_000, 'informer synced');
    try {
      const body = { apiVersion: `${group}/v1`, kind: 'Widget', metadata: { name: 'w1' }, spec: { size: 1 } };
      await custom.createNamespacedCustomObject({ group, version: 'v1', namespace: ns, plural, body });
      await expect(custom.createNamespacedCustomObject({ group, version: 'v1', namespace: ns, plural, body: { ...body, metadata: { name: 'bad' }, spec: { size: 0 } } }))
        .rejects.toThrow(/spec.size/);
      const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
      await custom.patchNamespacedCustomObject({ group, version: 'v1', namespace: ns, plural, name: 'w1', body: { spec: { size: 3 } } }, merge);
      await custom.patchNamespacedCustomObjectStatus({ group, version: 'v1', namespace: ns, plural, name: 'w1', body: { status: { phase: 'Ready' } } }, merge);
      const got = (await custom.getNamespacedCustomObject({ group, version: 'v1', namespace: ns, plural, name: 'w1' })) as Widget;
      expect(got).toMatchObject({ spec: { size: 3 }, status: { phase: 'Ready' } });
      await eventually(() => seen.includes('update:Ready') || undefined, 10_000, `informer update (seen ${seen.join(',')})`);
      expect(seen[0]).toBe('add:w1');
      expect(informer.get('w1', ns)?.status?.phase).toBe('Ready');
    } finally {
      await resilient.stop();
    }
  });

  it('creates and reads a Secret', async () => {
    await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 's1' }, stringData: { a: 'b' } } });
    const s = await core.readNamespacedSecret({ namespace: ns, name: 's1' });
    expect(Buffer.from(s.data?.['a'] ?? '', 'base64').toString()).toBe('b');
  });

  it('is driven by a kubectl of the same release', async () => {
    const kubectl = join(inject('controlPlaneBinDir'), 'kubectl');
    const { stdout } = await run(kubectl, ['--kubeconfig', inject('kubeconfigPath'), 'get', plural, '-n', ns, '-o', 'name']);
    expect(stdout.trim()).toBe(`widget.${group}/w1`);
    const { stdout: version } = await run(kubectl, ['--kubeconfig', inject('kubeconfigPath'), 'version', '-o', 'json']);
    const v = JSON.parse(version) as { clientVersion: { gitVersion: string }; serverVersion: { gitVersion: string } };
    expect(v.clientVersion.gitVersion).toBe(v.serverVersion.gitVersion);
  });
});
