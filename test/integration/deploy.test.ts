/**
 * The manifests in deploy/ and the image they ship: they apply; the operator running with the deployed
 * ServiceAccount's identity can do its whole job (the RBAC is sufficient) and nothing else (the RBAC is tight);
 * and the container image itself, run the way the Deployment runs it, does the same job.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Emulator } from '../../src/emulator/server.ts';
import { newSecret } from '../../src/emulator/state.ts';
import { freePort } from '../controlplane/controlplane.ts';
import { buildImage, podman, startContainer, type Container } from './container.ts';
import { MERGE, eventually, isGone, kubeConfig, memberCondition } from './kube.ts';
import { startOperatorProcess, type OperatorProcess } from './process.ts';
import { kubectl, serviceAccountKubeconfig, serviceAccountToken } from './serviceaccount.ts';
import { aMember, aPolicy } from '../kit/objects.ts';

const ROOT = join(import.meta.dirname, '../..');
const run = promisify(execFile);
const SYSTEM = 'teamkeys-system';
/** an ordinary team namespace, which anyone allowed to could delete */
const VICTIM = `deploy-victim-${Date.now().toString(36)}`;
const kc = kubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);
const managementKey = newSecret();
const emu = new Emulator({ managementKeys: [managementKey] });
let emuUrl = '';
let op: OperatorProcess | undefined;
let container: Container | undefined;
let saKubeconfig = '';

beforeAll(async () => {
  // server-side dry runs need the namespace to exist, as on a real cluster
  await kubectl(['create', 'namespace', SYSTEM]);
  await kubectl(['label', 'namespace', SYSTEM, 'teamkeys.dev/test-env=deploy', '--overwrite']);
  await kubectl(['create', 'namespace', VICTIM]);
  emuUrl = await emu.start();
  await core.createNamespacedSecret({ namespace: SYSTEM, body: { metadata: { name: 'teamkeys-management-key' }, stringData: { apiKey: managementKey } } });
}, 60_000);
afterAll(async () => {
  op?.child.kill('SIGKILL');
  await container?.remove();
  await emu.stop();
});

/** A token of the deployed ServiceAccount, as the kubelet would project it into the operator's pod. */
const deployedToken = () => serviceAccountToken(SYSTEM, 'teamkeys');

const tm = { group: 'teamkeys.dev', version: 'v1alpha1', plural: 'teammembers' };

/** A policy, a namespace and a member `name` in it, as a team would apply them; resolves when it is Ready. */
async function readyMember(name: string): Promise<{ ns: string; hash: string }> {
  const ns = `deploy-team-${Date.now().toString(36)}`;
  await core.createNamespace({ body: { metadata: { name: ns, labels: { 'teamkeys.dev/test-env': 'deploy' } } } });
  await custom.createClusterCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', plural: 'keypolicies', body: aPolicy(`deploy-${ns}`, { budget: { limitUSD: 2 } }) });
  await custom.createNamespacedCustomObject({ ...tm, namespace: ns, body: aMember(ns, name, `deploy-${ns}`) });
  const m = (await memberCondition(kc, ns, name)) as { status?: { key?: { hash?: string } } };
  await core.readNamespacedSecret({ namespace: ns, name: `${name}-openrouter` });
  return { ns, hash: m.status?.key?.hash ?? '' };
}

/** Suspends the member (its key is disabled at OpenRouter), then deletes it (its key is deleted, it goes). */
async function suspendAndDelete(ns: string, name: string, hash: string): Promise<void> {
  await custom.patchNamespacedCustomObject({ ...tm, namespace: ns, name, body: { spec: { suspended: true } } }, MERGE);
  await memberCondition(kc, ns, name, 'Suspended');
  expect(emu.store.state.keys.find((k) => k.hash === hash)?.disabled).toBe(true);
  await custom.deleteNamespacedCustomObject({ ...tm, namespace: ns, name });
  await eventually(() => isGone(() => custom.getNamespacedCustomObject({ ...tm, namespace: ns, name })), 30_000, 'member deleted');
  expect(emu.store.state.keys.find((k) => k.hash === hash)).toBeUndefined();
}

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

  it('runs its pod under Pod Security restricted, which the API server enforces in its namespace', async () => {
    const d = await kubectl(['get', 'deployment', 'teamkeys-operator', '-n', SYSTEM, '-o', 'json']);
    expect(d.ok, d.out).toBe(true);
    const spec = (JSON.parse(d.out) as { spec: { template: { spec: { securityContext?: object; containers: { securityContext?: object }[] } } } }).spec.template.spec;
    const pod = (name: string, podSpec: object) => JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: SYSTEM }, spec: podSpec });
    // the Deployment's own pod is admitted...
    const ok = await kubectl(['create', '--dry-run=server', '-f', '-'], undefined, pod('psa-ok', spec));
    expect(ok.ok, ok.out).toBe(true);
    // ...and the same pod allowed to run as root and to escalate is refused by the API server itself
    const loose = { ...spec, securityContext: { ...spec.securityContext, runAsNonRoot: false }, containers: spec.containers.map((c) => ({ ...c, securityContext: { ...c.securityContext, allowPrivilegeEscalation: true } })) };
    const refused = await kubectl(['create', '--dry-run=server', '-f', '-'], undefined, pod('psa-loose', loose));
    expect(refused.ok).toBe(false);
    expect(refused.out).toMatch(/violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false.*runAsNonRoot != true/s);
  });

  it('runs the operator as its ServiceAccount through a full provisioning and deletion (RBAC sufficient)', async () => {
    saKubeconfig = await serviceAccountKubeconfig(kc, SYSTEM, 'teamkeys');
    expect((await kubectl(['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}'], saKubeconfig)).out).toBe('system:serviceaccount:teamkeys-system:teamkeys');

    op = startOperatorProcess('teamkeys-operator-0', {
      KUBECONFIG: saKubeconfig,
      POD_NAMESPACE: SYSTEM,
      TEAMKEYS_CLUSTER_ID: 'deploy',
      TEAMKEYS_OPENROUTER_URL: `${emuUrl}/api/v1`,
      TEAMKEYS_NAMESPACE_SELECTOR: 'teamkeys.dev/test-env=deploy',
      TEAMKEYS_CREDENTIALS_INTERVAL: '2s',
    });
    await eventually(() => op?.logged('became leader') || undefined, 30_000, 'leader');
    const { ns, hash } = await readyMember('rbac');
    await suspendAndDelete(ns, 'rbac', hash);
    // a graceful stop releases the Lease for the next operator
    op.child.kill('SIGTERM');
    expect(await op.exited).toBe(0);
    const all = op.logs.join('');
    expect(all).not.toMatch(/forbidden/i);
    expect(all).not.toMatch(/sk-or-v1-[0-9a-f]{8,}/);
  }, 120_000);

  // each refusal names what was refused: a `Forbidden` from the API server, or `no` from `auth can-i`
  const FORBIDDEN = /Error from server \(Forbidden\)/;
  const NO = /^no$/m;
  it.each([
    ['read ConfigMaps', ['get', 'configmaps', '-n', 'default'], FORBIDDEN],
    ['create Pods', ['run', 'x', '--image=busybox', '-n', 'default', '--restart=Never'], FORBIDDEN],
    // a namespace that could be deleted: `default` is refused to everyone by NamespaceLifecycle admission
    ['delete namespaces', ['delete', 'namespace', VICTIM, '--dry-run=server'], FORBIDDEN],
    ['delete a KeyPolicy', ['auth', 'can-i', 'delete', 'keypolicies.teamkeys.dev'], NO],
    ['create TeamMembers', ['auth', 'can-i', 'create', 'teammembers.teamkeys.dev', '-n', 'default'], NO],
    ['edit its own RBAC', ['patch', 'clusterrole', 'teamkeys-operator', '--type=merge', '-p', '{"rules":[]}'], FORBIDDEN],
    ['change CRDs', ['delete', 'crd', 'teammembers.teamkeys.dev', '--dry-run=server'], FORBIDDEN],
    ['take leases elsewhere', ['auth', 'can-i', 'create', 'leases.coordination.k8s.io', '-n', 'default'], NO],
    ['read other leases in its namespace', ['get', 'lease', 'someone-else', '-n', SYSTEM], FORBIDDEN],
    // restarts need get/list/watch/patch on workloads, nothing more
    ['create Deployments', ['auth', 'can-i', 'create', 'deployments.apps', '-n', 'default'], NO],
    ['delete StatefulSets', ['auth', 'can-i', 'delete', 'statefulsets.apps', '-n', 'default'], NO],
    ['read ReplicaSets', ['get', 'replicasets', '-A'], FORBIDDEN],
  ] as const)('is refused when it tries to %s (RBAC tight)', async (_what, args, refusal) => {
    expect(saKubeconfig).not.toBe('');
    const r = await kubectl([...args], saKubeconfig);
    expect(r.ok).toBe(false);
    expect(r.out).toMatch(refusal);
  });

  it('holds exactly the permissions committed in test/integration/expected/ (kubectl auth can-i --list)', async () => {
    expect(saKubeconfig).not.toBe('');
    for (const [file, ns] of [['operator-rbac-team-namespace.txt', VICTIM], ['operator-rbac-own-namespace.txt', SYSTEM]] as const) {
      const r = await kubectl(['auth', 'can-i', '--list', '-n', ns], saKubeconfig);
      expect(r.ok, r.out).toBe(true);
      const rows = r.out.split('\n').map((l) => l.trimEnd()).filter(Boolean);
      await expect(`${rows.join('\n')}\n`).toMatchFileSnapshot(join(import.meta.dirname, 'expected', file));
    }
  });
});

describe('the image deploy/ ships', () => {
  let image = '';
  beforeAll(async () => {
    image = await buildImage('localhost/teamkeys:test');
  }, 900_000);

  it('runs as user 10001 and holds neither a shell nor npm', async () => {
    const { stdout } = await podman(['image', 'inspect', image, '--format', '{{.Config.User}}']);
    expect(stdout.trim()).toBe('10001:10001');
    for (const bin of ['/bin/sh', 'npm']) {
      await expect(podman(['run', '--rm', '--network', 'none', '--entrypoint', bin, image, '--version'])).rejects.toThrow(/not found|no such file/i);
    }
  });

  it('comes with a Software Bill of Materials that syft makes from the image itself (CycloneDX)', async () => {
    const out = join(await mkdtemp(join(tmpdir(), 'teamkeys-sbom-')), 'sbom.cdx.json');
    await run('bash', [join(ROOT, 'hack/sbom.sh'), image, out], { maxBuffer: 1 << 26 });
    const bom = JSON.parse(await readFile(out, 'utf8')) as { bomFormat: string; components: { name: string; version?: string; type: string }[] };
    expect(bom.bomFormat).toBe('CycloneDX');
    const has = (name: string, version?: string) => bom.components.some((c) => c.name === name && (version === undefined || c.version === version));
    // the production dependencies the image ships, at the versions the lock file pins; no dev dependency
    const lock = JSON.parse(await readFile(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string }> };
    for (const name of ['@kubernetes/client-node', 'undici', 'zod', 'pino', 'prom-client']) expect(has(name, lock.packages[`node_modules/${name}`]?.version), name).toBe(true);
    for (const dev of ['vitest', 'typescript', 'fast-check']) expect(has(dev), dev).toBe(false);
    // and the runtime itself
    expect(bom.components.some((c) => c.name === 'node' && c.version?.startsWith('24.'))).toBe(true);
  }, 600_000);

  it('provisions, suspends and deletes a member as the operator, run the way deploy/ runs it', async () => {
    if (op && op.child.exitCode === null) {
      op.child.kill('SIGTERM');
      await op.exited;
    }
    const cluster = kc.getCurrentCluster();
    const metricsPort = await freePort();
    container = await startContainer({
      image, namespace: SYSTEM, server: cluster?.server ?? '', caPem: Buffer.from(cluster?.caData ?? '', 'base64').toString(),
      token: await deployedToken(),
      env: {
        TEAMKEYS_OPENROUTER_URL: `${emuUrl}/api/v1`,
        TEAMKEYS_NAMESPACE_SELECTOR: 'teamkeys.dev/test-env=deploy',
        TEAMKEYS_CREDENTIALS_INTERVAL: '2s',
        TEAMKEYS_METRICS_PORT: String(metricsPort),
        TEAMKEYS_METRICS_HOST: '127.0.0.1',
      },
    });
    const c = container;
    // the readiness probe the Deployment uses: informers synced and the management key valid
    await eventually(async () => (await fetch(`http://127.0.0.1:${metricsPort}/readyz`)).status === 200 || undefined, 60_000, '/readyz of the container')
      .catch((e: unknown) => { throw new Error(`${String(e)}; container log: ${c.logs.join('').slice(-3000)}`); });
    await eventually(() => c.logs.join('').includes('became leader') || undefined, 30_000, 'leader');
    // deploy/ sets no cluster id: it is this cluster's own (the kube-system namespace's UID), in the log and metrics;
    // with a --namespace-selector (this test's scope), one shard among others: the operator's namespace is added
    const uid = (await core.readNamespace({ name: 'kube-system' })).metadata?.uid ?? '';
    const id = `${uid}.${SYSTEM}`;
    expect(c.logs.join('')).toContain(`"clusterId":"${id}"`);
    expect(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()).toContain(`teamkeys_info{cluster_id="${id}"`);
    const { ns, hash } = await readyMember('image');
    await suspendAndDelete(ns, 'image', hash);
    await c.stop();
    expect(await c.exited).toBe(0);
    const all = c.logs.join('');
    expect(all).not.toMatch(/forbidden|EROFS|EACCES/i);
    expect(all).not.toMatch(/sk-or-v1-[0-9a-f]{8,}/);
  }, 180_000);
});
