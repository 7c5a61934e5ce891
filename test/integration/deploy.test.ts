/**
 * The manifests in deploy/: they apply, and the operator running with the deployed ServiceAccount's identity
 * can do its whole job (the RBAC is sufficient) and nothing else (the RBAC is tight).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Emulator } from '../../src/emulator/server.ts';
import { newSecret } from '../../src/emulator/state.ts';
import { MERGE, eventually, kubeConfig, memberCondition } from './kube.ts';
import { startOperatorProcess, type OperatorProcess } from './process.ts';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '../..');
const SYSTEM = 'teamkeys-system';
const kc = kubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);
const emu = new Emulator({ managementKeys: [newSecret()] });
let op: OperatorProcess | undefined;
let saKubeconfig = '';

const kubectl = async (args: string[], kubeconfig = inject('kubeconfigPath')) => {
  try {
    const r = await run(join(inject('controlPlaneBinDir'), 'kubectl'), ['--kubeconfig', kubeconfig, ...args]);
    return { ok: true, out: r.stdout + r.stderr };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    return { ok: false, out: (err.stdout ?? '') + (err.stderr ?? '') };
  }
};

beforeAll(async () => {
  // server-side dry runs need the namespace to exist, as on a real cluster
  await kubectl(['create', 'namespace', SYSTEM]);
  await kubectl(['label', 'namespace', SYSTEM, 'teamkeys.dev/test-env=deploy', '--overwrite']);
}, 60_000);
afterAll(async () => {
  op?.child.kill('SIGKILL');
  await emu.stop();
});

describe('deploy/', () => {
  it('passes a server-side dry run, then applies', async () => {
    const dry = await kubectl(['apply', '--dry-run=server', '-k', join(ROOT, 'deploy')]);
    expect(dry.ok, dry.out).toBe(true);
    expect(dry.out).toMatch(/deployment.apps\/teamkeys-operator (created|configured|unchanged) \(server dry run\)/);
    const real = await kubectl(['apply', '-k', join(ROOT, 'deploy')]);
    expect(real.ok, real.out).toBe(true);
    const examples = await kubectl(['apply', '--dry-run=server', '-f', join(ROOT, 'deploy/examples/tiers.yaml')]);
    expect(examples.ok, examples.out).toBe(true);
    const d = await kubectl(['get', 'deployment', 'teamkeys-operator', '-n', SYSTEM, '-o', 'jsonpath={.spec.replicas} {.spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem} {.spec.template.spec.securityContext.runAsNonRoot}']);
    expect(d.out.trim()).toBe('2 true true');
  });

  it('runs the operator as its ServiceAccount through a full provisioning and deletion (RBAC sufficient)', async () => {
    const token = (await kubectl(['create', 'token', 'teamkeys', '-n', SYSTEM, '--duration=1h'])).out.trim();
    const cluster = kc.getCurrentCluster();
    const dir = await mkdtemp(join(tmpdir(), 'teamkeys-sa-'));
    saKubeconfig = join(dir, 'kubeconfig');
    await writeFile(saKubeconfig, [
      'apiVersion: v1', 'kind: Config',
      `clusters: [{name: c, cluster: {server: "${cluster?.server ?? ''}", certificate-authority-data: ${Buffer.from(cluster?.caData ?? '', 'base64').toString('base64')}}}]`,
      `users: [{name: teamkeys, user: {token: "${token}"}}]`,
      'contexts: [{name: c, context: {cluster: c, user: teamkeys}}]', 'current-context: c', '',
    ].join('\n'), { mode: 0o600 });
    expect((await kubectl(['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}'], saKubeconfig)).out).toBe('system:serviceaccount:teamkeys-system:teamkeys');

    const url = await emu.start();
    const mk = emu.store.state.keys.find((k) => k.management);
    expect(mk).toBeDefined();
    const managementKey = newSecret();
    emu.store.addManagementKey(managementKey);
    await core.createNamespacedSecret({ namespace: SYSTEM, body: { metadata: { name: 'teamkeys-management-key' }, stringData: { apiKey: managementKey } } });
    const ns = `deploy-team-${Date.now().toString(36)}`;
    await core.createNamespace({ body: { metadata: { name: ns, labels: { 'teamkeys.dev/test-env': 'deploy' } } } });
    op = startOperatorProcess('teamkeys-operator-0', {
      KUBECONFIG: saKubeconfig,
      POD_NAMESPACE: SYSTEM,
      TEAMKEYS_CLUSTER_ID: 'deploy',
      TEAMKEYS_OPENROUTER_URL: `${url}/api/v1`,
      TEAMKEYS_NAMESPACE_SELECTOR: 'teamkeys.dev/test-env=deploy',
      TEAMKEYS_CREDENTIALS_INTERVAL: '2s',
    });
    await eventually(() => op?.logged('became leader') || undefined, 30_000, 'leader');
    await custom.createClusterCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', plural: 'keypolicies', body: { apiVersion: 'teamkeys.dev/v1alpha1', kind: 'KeyPolicy', metadata: { name: `deploy-${ns}` }, spec: { budget: { limitUSD: 2 } } } });
    await custom.createNamespacedCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', namespace: ns, plural: 'teammembers', body: { apiVersion: 'teamkeys.dev/v1alpha1', kind: 'TeamMember', metadata: { name: 'rbac' }, spec: { policy: `deploy-${ns}` } } });
    const get = async () => (await custom.getNamespacedCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', namespace: ns, plural: 'teammembers', name: 'rbac' })) as { status?: { conditions?: { type: string; status: string }[] } };
    await memberCondition(kc, ns, 'rbac');
    await core.readNamespacedSecret({ namespace: ns, name: 'rbac-openrouter' });
    await custom.patchNamespacedCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', namespace: ns, plural: 'teammembers', name: 'rbac', body: { spec: { suspended: true } } }, MERGE);
    await memberCondition(kc, ns, 'rbac', 'Suspended');
    await custom.deleteNamespacedCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', namespace: ns, plural: 'teammembers', name: 'rbac' });
    await eventually(async () => {
      try {
        await get();
        return undefined;
      } catch {
        return true;
      }
    }, 30_000, 'member deleted');
    expect(emu.store.state.keys.filter((k) => !k.management)).toEqual([]);
    const all = op.logs.join('');
    expect(all).not.toMatch(/forbidden/i);
    expect(all).not.toMatch(/sk-or-v1-[0-9a-f]{8,}/);
  }, 120_000);

  it.each([
    ['read ConfigMaps', ['get', 'configmaps', '-n', 'default']],
    ['create Pods', ['run', 'x', '--image=busybox', '-n', 'default', '--restart=Never']],
    ['delete namespaces', ['delete', 'namespace', 'default', '--dry-run=server']],
    ['change a KeyPolicy spec', ['auth', 'can-i', 'patch', 'keypolicies.teamkeys.dev']],
    ['create TeamMembers', ['auth', 'can-i', 'create', 'teammembers.teamkeys.dev', '-n', 'default']],
    ['edit its own RBAC', ['patch', 'clusterrole', 'teamkeys-operator', '--type=merge', '-p', '{"rules":[]}']],
    ['change CRDs', ['delete', 'crd', 'teammembers.teamkeys.dev', '--dry-run=server']],
    ['take leases elsewhere', ['auth', 'can-i', 'create', 'leases.coordination.k8s.io', '-n', 'default']],
    ['read other leases in its namespace', ['get', 'lease', 'someone-else', '-n', SYSTEM]],
    ['list Deployments', ['get', 'deployments', '-A']],
  ])('is refused when it tries to %s (RBAC tight)', async (_what, args) => {
    expect(saKubeconfig).not.toBe('');
    const r = await kubectl(args, saKubeconfig);
    expect(r.ok).toBe(false);
    expect(r.out).toMatch(/forbidden|cannot|^no$/im);
  });
});
