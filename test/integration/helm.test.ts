/**
 * The Helm chart (deploy/chart/teamkeys, generated from deploy/ and crds/): it lints; it renders, with default and
 * other values, objects the API server accepts; its default render is what kustomize renders apart from Helm's
 * labels; and a real `helm install` creates what the operator needs to provision a member, run the way the
 * release's Deployment runs it; `helm uninstall` then leaves the CRDs and the namespace, as Helm habit has it.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { cp, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { AppsV1Api, CoreV1Api, CustomObjectsApi, type V1Deployment } from '@kubernetes/client-node';
import { parseAllDocuments, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CHART_DIR, chartFiles } from '../../hack/chart/generate.ts';
import { Emulator } from '../../src/emulator/server.ts';
import { newSecret } from '../../src/emulator/state.ts';
import { freePort } from '../controlplane/controlplane.ts';
import { podEnv } from './container.ts';
import { eventually, isGone, kubeConfig, memberCondition } from './kube.ts';
import { startOperatorProcess, type OperatorProcess } from './process.ts';
import { kubectl, serviceAccountKubeconfig } from './serviceaccount.ts';
import { aMember, aPolicy } from '../kit/objects.ts';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '../..');
const CHART = join(ROOT, CHART_DIR);
const id = randomBytes(3).toString('hex');
const RELEASE = `rel-${id}`;
/** the chart's names for this release: <release>-teamkeys (deploy/'s names for release teamkeys) */
const PREFIX = `${RELEASE}-teamkeys`;
const NS = `helm-${id}`;
const DRY_NS = `helm-dry-${id}`;
const TEAM_NS = `helm-team-${id}`;
const SELECTOR = { 'teamkeys.dev/test-env': `helm-${id}` };
const kc = kubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const apps = kc.makeApiClient(AppsV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);
const managementKey = newSecret();
const emu = new Emulator({ managementKeys: [managementKey] });
let helmBin = '';
let op: OperatorProcess | undefined;
let metricsPort = 0;
let valuesFile = '';
const tmp = () => mkdtemp(join(tmpdir(), 'teamkeys-helm-'));

async function helm(args: string[]): Promise<{ ok: boolean; out: string }> {
  try {
    const r = await run(helmBin, ['--kubeconfig', inject('kubeconfigPath'), ...args], { maxBuffer: 1 << 26 });
    return { ok: true, out: r.stdout + r.stderr };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    return { ok: false, out: (err.stdout ?? '') + (err.stderr ?? '') };
  }
}

/** Every value set away from its default (the operator's settings point at this test's emulator and namespaces). */
const otherValues = (emuUrl: string) => ({
  image: { repository: 'registry.example/teamkeys', tag: '9.9.9', pullPolicy: 'Always' },
  replicas: 1,
  resources: { requests: { cpu: '10m', memory: '64Mi' }, limits: { memory: '200Mi' } },
  nodeOptions: '--max-old-space-size=120',
  clusterId: `helm-${id}`,
  namespaceSelector: SELECTOR,
  managementKey: { secretName: 'helm-management-key', secretKey: 'key' },
  openrouterUrl: `${emuUrl}/api/v1`,
  restartWorkloads: false,
  leaderElection: { enabled: true, leaseName: 'helm-operator' },
  logLevel: 'debug',
  metrics: { port: metricsPort, memberMetrics: false },
  extraEnv: [{ name: 'TEAMKEYS_CREDENTIALS_INTERVAL', value: '2s' }],
  nodeSelector: { 'kubernetes.io/os': 'linux' },
  tolerations: [{ key: 'dedicated', operator: 'Exists' }],
  affinity: null, // Helm merges maps: null, not {}, drops the default
  podAnnotations: { 'example.dev/team': 'platform' },
});

interface Obj { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }; [f: string]: unknown }
const objects = (text: string): Obj[] => parseAllDocuments(text).map((d) => d.toJS() as Obj | null).filter((o): o is Obj => o !== null);
const key = (o: Obj) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;

/** The labels and annotations Helm adds to deploy/'s objects; nothing else may differ. */
const HELM_LABELS = ['helm.sh/chart', 'app.kubernetes.io/instance', 'app.kubernetes.io/managed-by', 'app.kubernetes.io/version'];
function withoutHelm(o: Obj): Obj {
  const labels = Object.fromEntries(Object.entries(o.metadata.labels ?? {}).filter(([k]) => !HELM_LABELS.includes(k)));
  const annotations = Object.fromEntries(Object.entries(o.metadata.annotations ?? {}).filter(([k]) => !k.startsWith('helm.sh/')));
  const { labels: _l, annotations: _a, ...meta } = o.metadata;
  return {
    ...o,
    metadata: { ...meta, ...(Object.keys(labels).length > 0 ? { labels } : {}), ...(Object.keys(annotations).length > 0 ? { annotations } : {}) },
  };
}

async function template(release: string, namespace: string, values?: unknown, chart = CHART): Promise<{ ok: boolean; out: string }> {
  const args = ['template', release, chart, '--namespace', namespace];
  if (values !== undefined) {
    const f = join(await tmp(), 'values.yaml');
    await writeFile(f, stringify(values));
    args.push('--values', f);
  }
  return helm(args);
}

/** `kubectl apply --dry-run=server` of rendered objects: the API server validates and defaults them, stores none. */
async function serverDryRun(rendered: string): Promise<{ ok: boolean; out: string }> {
  const f = join(await tmp(), 'rendered.yaml');
  await writeFile(f, rendered);
  return kubectl(['apply', '--dry-run=server', '-f', f]);
}

beforeAll(async () => {
  helmBin = (await run('bash', [join(ROOT, 'hack/helm.sh')], { maxBuffer: 1 << 26 })).stdout.trim();
  metricsPort = await freePort();
  const emuUrl = await emu.start();
  valuesFile = join(await tmp(), 'values.yaml');
  await writeFile(valuesFile, stringify(otherValues(emuUrl)));
  await core.createNamespace({ body: { metadata: { name: DRY_NS } } });
}, 900_000);

afterAll(async () => {
  op?.child.kill('SIGKILL');
  await helm(['uninstall', RELEASE, '--namespace', NS]);
  await emu.stop();
  for (const name of [NS, DRY_NS, TEAM_NS]) await core.deleteNamespace({ name }).catch(() => undefined);
});

describe('the chart', () => {
  it('passes helm lint --strict, with default and with other values', async () => {
    const plain = await helm(['lint', '--strict', CHART]);
    expect(plain.ok, plain.out).toBe(true);
    const other = await helm(['lint', '--strict', CHART, '--values', valuesFile]);
    expect(other.ok, other.out).toBe(true);
  });

  it('renders for default values what kustomize renders from deploy/, apart from the labels Helm adds', async () => {
    const h = await template('teamkeys', 'teamkeys-system');
    expect(h.ok, h.out).toBe(true);
    const k = await kubectl(['kustomize', join(ROOT, 'deploy')]);
    expect(k.ok, k.out).toBe(true);
    const fromHelm = objects(h.out);
    const fromKustomize = objects(k.out);
    expect(fromHelm.map(key).toSorted()).toEqual(fromKustomize.map(key).toSorted());
    const helmByKey = new Map(fromHelm.map((o) => [key(o), o]));
    for (const o of fromKustomize) expect(withoutHelm(helmByKey.get(key(o)) as Obj), key(o)).toEqual(o);
    // what Helm adds, it adds to every object
    for (const o of fromHelm) expect(o.metadata.labels?.['app.kubernetes.io/instance'], key(o)).toBe('teamkeys');
  });

  it('renders objects the API server accepts (server-side dry run), with default and with other values', async () => {
    const plain = await template('teamkeys', DRY_NS);
    expect(plain.ok, plain.out).toBe(true);
    const dryPlain = await serverDryRun(plain.out);
    expect(dryPlain.ok, dryPlain.out).toBe(true);
    expect(dryPlain.out).toMatch(/deployment.apps\/teamkeys-operator (created|configured|unchanged) \(server dry run\)/);

    const other = await helm(['template', RELEASE, CHART, '--namespace', DRY_NS, '--values', valuesFile]);
    expect(other.ok, other.out).toBe(true);
    const dryOther = await serverDryRun(other.out);
    expect(dryOther.ok, dryOther.out).toBe(true);
    const byKey = new Map(objects(other.out).map((o) => [key(o), o]));
    const d = byKey.get(`Deployment/${DRY_NS}/${PREFIX}-operator`) as V1Deployment & Obj;
    const pod = d.spec?.template.spec;
    const c = pod?.containers[0];
    expect(d.spec?.replicas).toBe(1);
    expect(c?.image).toBe('registry.example/teamkeys:9.9.9');
    expect(c?.imagePullPolicy).toBe('Always');
    expect(c?.resources).toEqual({ requests: { cpu: '10m', memory: '64Mi' }, limits: { memory: '200Mi' } });
    expect(c?.ports?.[0]?.containerPort).toBe(metricsPort);
    expect(pod?.nodeSelector).toEqual({ 'kubernetes.io/os': 'linux' });
    expect(pod?.tolerations).toEqual([{ key: 'dedicated', operator: 'Exists' }]);
    expect(pod?.affinity).toBeUndefined();
    expect(pod?.serviceAccountName).toBe(PREFIX);
    expect(d.spec?.template.metadata?.annotations).toEqual({ 'example.dev/team': 'platform' });
    expect(Object.fromEntries((c?.env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value]))).toEqual({
      NODE_OPTIONS: '--max-old-space-size=120',
      TEAMKEYS_CLUSTER_ID: `helm-${id}`,
      TEAMKEYS_NAMESPACE_SELECTOR: `teamkeys.dev/test-env=helm-${id}`,
      TEAMKEYS_MANAGEMENT_KEY_SECRET: 'helm-management-key',
      TEAMKEYS_MANAGEMENT_KEY_SECRET_KEY: 'key',
      TEAMKEYS_OPENROUTER_URL: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/api\/v1$/) as unknown,
      TEAMKEYS_RESTART_WORKLOADS: 'false',
      TEAMKEYS_LEASE_NAME: 'helm-operator',
      TEAMKEYS_METRICS_PORT: String(metricsPort),
      TEAMKEYS_MEMBER_METRICS: 'false',
      LOG_LEVEL: 'debug',
      TEAMKEYS_CREDENTIALS_INTERVAL: '2s',
    });
    // restarts off: the ClusterRole has no rule on workloads; the Lease Role names the configured Lease
    const role = byKey.get(`ClusterRole//${PREFIX}-operator`) as Obj & { rules: { apiGroups: string[] }[] };
    expect(role.rules.flatMap((r) => r.apiGroups)).not.toContain('apps');
    const lease = byKey.get(`Role/${DRY_NS}/${PREFIX}-leader-election`) as Obj & { rules: { resourceNames?: string[] }[] };
    expect(lease.rules.flatMap((r) => r.resourceNames ?? [])).toEqual(['helm-operator']);
    expect(byKey.get(`Service/${DRY_NS}/${PREFIX}-metrics`)?.['spec']).toMatchObject({ ports: [{ port: metricsPort }] });
  });

  it('refuses more than one replica without leader election, misspelt values and settings the operator refuses', async () => {
    const refused = await template('teamkeys', DRY_NS, { leaderElection: { enabled: false }, replicas: 2 });
    expect(refused.ok).toBe(false);
    expect(refused.out).toMatch(/replicas > 1 needs leaderElection.enabled/);
    for (const [values, error] of [
      [{ replica: 3 }, /additional properties 'replica' not allowed/],
      [{ logLevel: 'verbose' }, /\/logLevel.*must be one of/],
      [{ clusterId: 'Prod_1' }, /\/clusterId/],
      [{ metrics: { port: 'http' } }, /\/metrics\/port/],
    ] as const) {
      const r = await template('teamkeys', DRY_NS, values);
      expect(r.ok, JSON.stringify(values)).toBe(false);
      expect(r.out).toMatch(error);
    }
  });

  it('renders a digest, no CRDs, no namespace labels and no Lease Role when asked', async () => {
    const single = await template('teamkeys', DRY_NS, { leaderElection: { enabled: false }, replicas: 1, image: { digest: 'sha256:0123' }, crds: { install: false }, namespace: { applyLabels: false } });
    expect(single.ok, single.out).toBe(true);
    const kinds = objects(single.out).map((o) => o.kind);
    expect(kinds).not.toContain('CustomResourceDefinition');
    expect(kinds).not.toContain('Namespace');
    expect(kinds).not.toContain('Role');
    expect(single.out).toContain('image: "ghcr.io/teamkeys/teamkeys@sha256:0123"');
    expect(single.out).toContain('name: TEAMKEYS_LEADER_ELECT');
  });

  it('templates deploy/monitoring/ objects when those files exist, each behind its value', async () => {
    // a copy of the sources with the monitoring manifests another change adds to deploy/
    const root = await tmp();
    for (const p of ['deploy', 'crds', 'package.json']) await cp(join(ROOT, p), join(root, p), { recursive: true });
    await mkdir(join(root, 'deploy/monitoring'), { recursive: true }); // (the real ones exist now: these stand in for them)
    await writeFile(join(root, 'deploy/monitoring/servicemonitor.yaml'), stringify({
      apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor', metadata: { name: 'teamkeys-operator' },
      spec: { selector: { matchLabels: { 'app.kubernetes.io/name': 'teamkeys' } }, namespaceSelector: { matchNames: ['teamkeys-system'] }, endpoints: [{ port: 'metrics' }] },
    }));
    await writeFile(join(root, 'deploy/monitoring/prometheusrule.yaml'), stringify({
      apiVersion: 'monitoring.coreos.com/v1', kind: 'PrometheusRule', metadata: { name: 'teamkeys' },
      spec: { groups: [{ name: 'teamkeys', rules: [{ alert: 'TeamkeysDown', expr: 'absent(up{job="teamkeys-metrics"} == 1)', for: '10m' }] }] },
    }));
    const chart = join(root, CHART_DIR);
    for (const [path, text] of Object.entries(chartFiles(root))) {
      await mkdir(dirname(join(chart, path)), { recursive: true });
      await writeFile(join(chart, path), text);
    }
    const lint = await helm(['lint', '--strict', chart]);
    expect(lint.ok, lint.out).toBe(true);
    const off = await template('teamkeys', DRY_NS, undefined, chart);
    expect(objects(off.out).map((o) => o.kind)).not.toContain('ServiceMonitor');
    const on = await template('teamkeys', DRY_NS, { monitoring: { serviceMonitor: { enabled: true, labels: { release: 'prom' } }, prometheusRule: { enabled: true } } }, chart);
    expect(on.ok, on.out).toBe(true);
    const byKind = new Map(objects(on.out).map((o) => [o.kind, o]));
    const sm = byKind.get('ServiceMonitor');
    expect(sm?.metadata).toMatchObject({ name: 'teamkeys-operator', namespace: DRY_NS, labels: { release: 'prom', 'app.kubernetes.io/part-of': 'teamkeys' } });
    expect(sm?.['spec']).toMatchObject({ namespaceSelector: { matchNames: [DRY_NS] } });
    expect(byKind.get('PrometheusRule')?.metadata.namespace).toBe(DRY_NS);
  });
});

describe('helm install', () => {
  it('creates what the operator needs: run as the release runs it, it provisions a member', async () => {
    // the suite's CRDs were applied with kubectl, as a cluster moving from deploy/ to Helm has them: Helm takes them over
    const install = await helm(['install', RELEASE, CHART, '--namespace', NS, '--create-namespace', '--take-ownership', '--values', valuesFile, '--wait', '--timeout', '2m']);
    expect(install.ok, install.out).toBe(true);
    expect(install.out).toContain('kubectl -n ' + NS + ' create secret generic helm-management-key');
    // the hook gave the namespace Helm created deploy/namespace.yaml's Pod Security label
    expect((await core.readNamespace({ name: NS })).metadata?.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
    await core.createNamespacedSecret({ namespace: NS, body: { metadata: { name: 'helm-management-key' }, stringData: { key: managementKey } } });

    // the pod the release's Deployment asks for, with its ServiceAccount's identity, args and env
    const d = await apps.readNamespacedDeployment({ namespace: NS, name: `${PREFIX}-operator` });
    const c = d.spec?.template.spec?.containers[0];
    expect(c?.args).toEqual(['operator']);
    const podName = `${PREFIX}-operator-0`;
    const env = podEnv(c?.env ?? [], { name: podName, namespace: NS });
    const saKubeconfig = await serviceAccountKubeconfig(kc, NS, d.spec?.template.spec?.serviceAccountName ?? '');
    op = startOperatorProcess(podName, { ...env, KUBECONFIG: saKubeconfig, TEAMKEYS_METRICS_HOST: '127.0.0.1' });
    const probe = c?.readinessProbe?.httpGet?.path ?? '';
    await eventually(async () => (await fetch(`http://127.0.0.1:${metricsPort}${probe}`)).status === 200 || undefined, 60_000, `${probe} of the operator`)
      .catch((e: unknown) => { throw new Error(`${String(e)}; operator log: ${op?.logs.join('').slice(-3000) ?? ''}`); });
    await eventually(() => op?.logged('became leader') || undefined, 30_000, 'leader');
    // the Lease the chart's Role allows is the one the operator holds
    expect((await kubectl(['get', 'lease', 'helm-operator', '-n', NS, '-o', 'name'])).out.trim()).toBe('lease.coordination.k8s.io/helm-operator');

    await core.createNamespace({ body: { metadata: { name: TEAM_NS, labels: SELECTOR } } });
    const policy = `helm-${id}`;
    await custom.createClusterCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', plural: 'keypolicies', body: aPolicy(policy, { budget: { limitUSD: 3 } }) });
    const tm = { group: 'teamkeys.dev', version: 'v1alpha1', plural: 'teammembers', namespace: TEAM_NS };
    await custom.createNamespacedCustomObject({ ...tm, body: aMember(TEAM_NS, 'ada', policy) });
    const m = (await memberCondition(kc, TEAM_NS, 'ada')) as { status?: { key?: { hash?: string } } };
    const hash = m.status?.key?.hash ?? '';
    const record = emu.store.state.keys.find((k) => k.hash === hash);
    // the Secret holds the very key OpenRouter (the emulator) issued, named with the release's cluster id
    const secret = await core.readNamespacedSecret({ namespace: TEAM_NS, name: 'ada-openrouter' });
    const stored = Object.values(secret.data ?? {}).map((v) => createHash('sha256').update(Buffer.from(v, 'base64').toString()).digest('hex'));
    expect(record).toBeDefined();
    expect(stored).toContain(record?.digest);
    expect(record?.name).toContain(`helm-${id}`);
    expect(record?.limit).toBe(3);
    // memberMetrics: false leaves the per-member series out, the per-policy ones in
    const metrics = await eventually(async () => {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      return text.includes(`teamkeys_policy_ready_members{policy="${policy}"} 1`) ? text : undefined;
    }, 30_000, 'the policy series');
    expect(metrics).not.toContain('teamkeys_member_');

    // deleted while the operator runs: its key goes at OpenRouter, then the policy goes
    await custom.deleteNamespacedCustomObject({ ...tm, name: 'ada' });
    await eventually(() => isGone(() => custom.getNamespacedCustomObject({ ...tm, name: 'ada' })), 30_000, 'member deleted');
    expect(emu.store.state.keys.find((k) => k.hash === hash)).toBeUndefined();
    await custom.deleteClusterCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', plural: 'keypolicies', name: policy });
    await eventually(() => isGone(() => custom.getClusterCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', plural: 'keypolicies', name: policy })), 30_000, 'policy deleted');
    op.child.kill('SIGTERM');
    expect(await op.exited).toBe(0);
    const logs = op.logs.join('');
    expect(logs).not.toMatch(/forbidden/i);
    expect(logs).not.toMatch(/sk-or-v1-[0-9a-f]{8,}/);
  }, 180_000);

  it('helm upgrade changes the release in place (hooks and CRDs applied again without conflict)', async () => {
    const up = await helm(['upgrade', RELEASE, CHART, '--namespace', NS, '--reuse-values', '--set', 'replicas=2', '--set', 'logLevel=info', '--wait', '--timeout', '2m']);
    expect(up.ok, up.out).toBe(true);
    const d = await apps.readNamespacedDeployment({ namespace: NS, name: `${PREFIX}-operator` });
    expect(d.spec?.replicas).toBe(2);
    expect(d.spec?.template.spec?.containers[0]?.env?.map((e) => e.name)).not.toContain('LOG_LEVEL');
    expect(d.metadata?.labels?.['helm.sh/chart']).toMatch(/^teamkeys-/);
    expect((await helm(['history', RELEASE, '--namespace', NS, '-o', 'json'])).out).toMatch(/"revision":2/);
    expect((await core.readNamespace({ name: NS })).metadata?.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
  }, 180_000);

  it('helm uninstall removes the release and keeps the CRDs and the namespace', async () => {
    const un = await helm(['uninstall', RELEASE, '--namespace', NS, '--wait', '--timeout', '2m']);
    expect(un.ok, un.out).toBe(true);
    for (const [kind, name, ns] of [
      ['deployment', `${PREFIX}-operator`, NS], ['serviceaccount', PREFIX, NS], ['service', `${PREFIX}-metrics`, NS],
      ['role', `${PREFIX}-leader-election`, NS], ['rolebinding', `${PREFIX}-leader-election`, NS],
      ['clusterrole', `${PREFIX}-operator`], ['clusterrolebinding', `${PREFIX}-operator`], ['clusterrole', `${PREFIX}-edit`], ['clusterrole', `${PREFIX}-view`],
    ] as const) {
      const r = await kubectl(['get', kind, name, ...(ns ? ['-n', ns] : [])]);
      expect(r.out, `${kind} ${name}`).toMatch(/NotFound/);
    }
    for (const crd of ['keypolicies.teamkeys.dev', 'teammembers.teamkeys.dev']) {
      const r = await kubectl(['get', 'crd', crd, '-o', 'jsonpath={.status.conditions[?(@.type=="Established")].status}']);
      expect(r.out, crd).toBe('True');
    }
    const ns = await core.readNamespace({ name: NS });
    expect(ns.status?.phase).toBe('Active');
    expect(ns.metadata?.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
    // what the user created stays theirs
    await core.readNamespacedSecret({ namespace: NS, name: 'helm-management-key' });
  }, 180_000);
});
