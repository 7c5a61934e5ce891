/**
 * Proves the test bed: a real kube-apiserver and etcd driven through @kubernetes/client-node, and the rest of a
 * whole cluster the operator's tests rely on: fake nodes, Deployments that roll out or stall (the Workload helper),
 * garbage collection and namespace deletion.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  ApiextensionsV1Api, CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { ResilientInformer } from '../../src/kube/informer.ts';
import { ListWatch } from '../../src/kube/listwatch.ts';
import { KubeHttp } from '../../src/kube/http.ts';
import { KubeAccess } from '../../src/kube/access.ts';
import { eventually, freshNamespace, kubeConfig } from './kube.ts';
import { Workload } from './rollout.ts';

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
    const resilient = new ResilientInformer<Widget>(new ListWatch<Widget>(new KubeHttp(new KubeAccess(kc)), path), { minBackoffMs: 100 });
    const informer = resilient;
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

  it('has fake nodes that are Ready', async () => {
    const nodes = await core.listNode();
    const ready = nodes.items.filter((n) => n.metadata?.annotations?.['kwok.x-k8s.io/node'] === 'fake' && n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    expect(ready.length).toBeGreaterThanOrEqual(3);
  });

  it('runs a Deployment of 3 to Available, rolls it to a new ReplicaSet on a template change, and kubectl agrees', async () => {
    const w = await Workload.create(kc, ns, 'web', { replicas: 3 });
    const d = await w.rolledOut();
    expect(d.status).toMatchObject({ readyReplicas: 3, availableReplicas: 3 });
    const [first] = await w.liveReplicaSets();
    const generation = await w.bumpTemplate({ 'teamkeys.dev/restartedAt': 'now' });
    const status = await w.rolloutStatus();
    expect(status, status.out).toMatchObject({ ok: true, out: expect.stringMatching(/successfully rolled out/) });
    await w.rolledOut(generation);
    const live = await w.liveReplicaSets();
    expect(live).toHaveLength(1);
    expect(live[0]).toMatchObject({ replicas: 3, annotations: { 'teamkeys.dev/restartedAt': 'now' } });
    expect(live[0]?.name).not.toBe(first?.name);
  });

  it('shows a rollout whose pods never become Ready as stalled, and kubectl rollout status fails', async () => {
    const w = await Workload.create(kc, ns, 'stuck', { replicas: 2, neverReady: true, progressDeadlineSeconds: 5 });
    const d = await w.stalled();
    expect(d.status?.availableReplicas ?? 0).toBe(0);
    const status = await w.rolloutStatus('20s');
    expect(status, status.out).toMatchObject({ ok: false, out: expect.stringMatching(/exceeded its progress deadline/) });
  });

  it('collects garbage: an object whose owner is deleted goes too', async () => {
    const owner = await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'owner' } } });
    await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'owned', ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata?.uid ?? '' }] } } });
    await core.deleteNamespacedConfigMap({ namespace: ns, name: 'owner' });
    await eventually(async () => core.readNamespacedConfigMap({ namespace: ns, name: 'owned' }).then(() => undefined, (e: { code?: number }) => e.code === 404 || undefined), 30_000, 'owned ConfigMap collected');
  });
});
