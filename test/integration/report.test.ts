/**
 * `teamkeys report` and the kubectl plugin against a real API server: members and statuses written as the operator
 * would (through the status subresource), then the real CLI run as a child process, directly and through kubectl's
 * plugin discovery, reading Kubernetes only.
 */
import { execFile } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { CoreV1Api, CustomObjectsApi, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { parse as parseCsv } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import type { TeamMemberStatus } from '../../src/api/schema.ts';
import type { Report } from '../../src/cli/render.ts';
import { utcDay } from '../../src/util/windows.ts';
import { MERGE, freshNamespace, kubeConfig } from './kube.ts';
import { aMember, aPolicy, type MemberSpec } from '../kit/objects.ts';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '../..');
const DAY = 86_400_000;
const kubeconfig = inject('kubeconfigPath');
const kubectl = join(inject('controlPlaneBinDir'), 'kubectl');
const kc = kubeConfig();
const custom = kc.makeApiClient(CustomObjectsApi);
const tm = { group: 'teamkeys.dev', version: 'v1alpha1', plural: 'teammembers' } as const;

let ns: string; // alice, bob (pro) and carol (lite)
let other: string; // dave (lite)
let pro: string;
let lite: string;
let build: string;
let pluginPath: string;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function exec(file: string, args: string[], env: Record<string, string> = {}): Promise<Result> {
  try {
    const r = await run(file, args, { env: { ...process.env, ...env }, timeout: 30_000 });
    return { code: 0, ...r };
  } catch (e) {
    const f = e as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof f.code !== 'number') throw e;
    return { code: f.code, stdout: f.stdout ?? '', stderr: f.stderr ?? '' };
  }
}

/** `teamkeys report …` from the source, as `node src/main.ts`. */
const teamkeys = (...args: string[]) => exec(process.execPath, [join(ROOT, 'src/main.ts'), ...args, '--kubeconfig', kubeconfig]);
/** `kubectl teamkeys …`: kubectl finds the compiled plugin on PATH; the kubeconfig comes from KUBECONFIG, as for users. */
const plugin = (...args: string[]) => exec(kubectl, ['teamkeys', ...args], { PATH: pluginPath, KUBECONFIG: kubeconfig });

/** A UTC day `n` days before today. Data sits away from the --since edges, so a test run across midnight still holds. */
const daysAgo = (n: number) => utcDay(Date.now() - n * DAY);
/** When alice's budget is forecast to run out, to the minute, and as the table shows it. */
const EXHAUSTS = new Date(Math.floor(Date.now() / 60_000) * 60_000 + 94 * 3_600_000).toISOString().replace('.000Z', 'Z');
const EXHAUSTS_SHOWN = EXHAUSTS.slice(0, 16).replace('T', ' ');
const cond = (type: string, status: 'True' | 'False', reason: string, message: string) => ({ type, status, reason, message, lastTransitionTime: new Date().toISOString() });
const usage = (windowUSD: number, more: object) => ({ windowUSD, dailyUSD: 0, weeklyUSD: 0, monthlyUSD: windowUSD, byokUSD: 0, lifetimeUSD: windowUSD, observedAt: new Date().toISOString(), ...more });

async function createMember(namespace: string, name: string, spec: MemberSpec, status: TeamMemberStatus): Promise<void> {
  await custom.createNamespacedCustomObject({ ...tm, namespace, body: aMember(namespace, name, spec) });
  await custom.patchNamespacedCustomObjectStatus({ ...tm, namespace, name, body: { status } }, MERGE);
}

beforeAll(async () => {
  ns = await freshNamespace(kc, 'ml');
  other = await freshNamespace(kc, 'data');
  // KeyPolicies are cluster-scoped: the namespace's random suffix keeps this run's apart
  [pro, lite] = [`pro-${ns.slice(3)}`, `lite-${ns.slice(3)}`];
  for (const [name, limitUSD] of [[pro, 50], [lite, 5]] as const) {
    await custom.createClusterCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', plural: 'keypolicies', body: aPolicy(name, { budget: { limitUSD } }) });
  }
  await createMember(ns, 'alice', { policy: pro, displayName: 'Alice Liddell', email: 'alice@example.com' }, {
    conditions: [cond('Ready', 'True', 'KeyReady', 'key sk-or-v1-a11...ce0 is in Secret alice-openrouter')],
    key: { hash: 'a11ce', name: 'teamkeys-alice', label: 'sk-or-v1-a11...ce0', createdAt: '2026-11-02T09:00:00Z', disabled: false, reset: 'monthly', includeByok: false },
    secretName: 'alice-openrouter',
    budget: { limitUSD: 50, remainingUSD: 20.5, reset: 'monthly' },
    usage: usage(29.5, {
      requests: 1640,
      days: [{ date: daysAgo(20), usd: 7, requests: 70 }, { date: daysAgo(10), usd: 3, requests: 30 }, { date: daysAgo(4), usd: 9.25, requests: 410 }, { date: daysAgo(0), usd: 5, requests: 130 }],
      models: [{ model: 'anthropic/claude-sonnet-4', usd: 21, requests: 300 }, { model: 'openai/gpt-4o-mini', usd: 8.5, requests: 1340 }],
      forecast: { burnUSDPerDay: 5.2, projectedUSD: 61.2, exhaustsAt: EXHAUSTS },
      analyzedAt: new Date().toISOString(),
    }),
  });
  await createMember(ns, 'bob', { policy: pro }, {
    conditions: [cond('Ready', 'False', 'SecretRejected', 'exceeded quota: secrets, requested: count/secrets=1, used: count/secrets=10, limited: count/secrets=10')],
    budget: { limitUSD: 50, remainingUSD: 46.9, reset: 'monthly' },
    usage: usage(3.1, { requests: 95, days: [{ date: daysAgo(1), usd: 3.1, requests: 95 }], models: [{ model: 'openai/gpt-4o-mini', usd: 3.1, requests: 95 }], forecast: { burnUSDPerDay: 0.2, projectedUSD: 6 }, analyzedAt: new Date().toISOString() }),
  });
  // analytics not read yet: no usage.days
  await createMember(ns, 'carol', { policy: lite }, { conditions: [cond('Ready', 'True', 'KeyReady', 'ok')], budget: { limitUSD: 5, remainingUSD: 4, reset: 'weekly' }, usage: usage(1, {}) });
  await createMember(other, 'dave', { policy: lite }, {
    conditions: [cond('Ready', 'True', 'KeyReady', 'ok')],
    budget: { limitUSD: 5, remainingUSD: 0.4, reset: 'weekly' },
    usage: usage(4.6, { requests: 2000, days: [{ date: daysAgo(2), usd: 4.6, requests: 2000 }], forecast: { burnUSDPerDay: 1.5, projectedUSD: 9, exhaustsAt: new Date(Date.parse(EXHAUSTS) + DAY).toISOString() }, analyzedAt: new Date().toISOString() }),
  });

  // the plugin as shipped: compiled by the build, executable, found by kubectl on PATH under its plugin name
  await mkdir(join(ROOT, '.cache'), { recursive: true });
  build = await mkdtemp(join(ROOT, '.cache', 'report-'));
  await run(join(ROOT, 'node_modules/.bin/tsc'), ['-p', join(ROOT, 'tsconfig.build.json'), '--outDir', join(build, 'dist')]);
  await chmod(join(build, 'dist/cli/kubectl-teamkeys.js'), 0o755);
  await mkdir(join(build, 'bin'));
  await symlink(join(build, 'dist/cli/kubectl-teamkeys.js'), join(build, 'bin/kubectl-teamkeys'));
  // the plugin's `#!/usr/bin/env node` finds this Node first
  pluginPath = [join(build, 'bin'), dirname(process.execPath), '/usr/bin', '/bin'].join(':');
}, 120_000);

afterAll(async () => {
  if (build) await rm(build, { recursive: true, force: true });
});

const cells = (line: string | undefined) => (line ?? '').trim().split(/\s{2,}/);

describe('teamkeys report', () => {
  it('prints the weekly report: the most spent first, the members without analytics honest, a total row', async () => {
    const r = await teamkeys('report', '-n', ns);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(cells(lines[0])).toEqual(['MEMBER', 'NAMESPACE', 'POLICY', 'SPEND', 'REQUESTS', 'LIMIT', 'REMAINING', 'USED%', 'TOP MODEL', 'FORECAST']);
    // alice: 9.25 + 5 of the last 7 days (not the 3 and 7 of 10 and 20 days ago)
    expect(cells(lines[1])).toEqual(['alice', ns, pro, '14.25', '540', '50.00', '20.50', '59%', 'anthropic/claude-sonnet-4', EXHAUSTS_SHOWN]);
    expect(cells(lines[2])).toEqual(['bob', ns, pro, '3.10', '95', '50.00', '46.90', '6.2%', 'openai/gpt-4o-mini', 'ok']);
    expect(cells(lines[3])).toEqual(['carol', ns, lite, '-', '-', '5.00', '4.00', '20%', '-', '-']);
    expect(cells(lines[4])).toEqual(['TOTAL', '17.35', '635', '105.00', '71.40', '1 exhausting']);
    expect(lines[5]).toMatch(new RegExp(`^SPEND and REQUESTS: ${daysAgo(6)} to ${daysAgo(0)}, 7 UTC days`));
    expect(lines[6]).toContain('1 member without usage analytics yet (status.usage.days not written)');
  });

  it('--since sums the days of the period', async () => {
    const spend = async (since: string) => {
      const r = await teamkeys('report', '-n', ns, '--since', since, '-o', 'json');
      const doc = JSON.parse(r.stdout) as Report;
      return doc.rows.map((row) => [row.name, row.spendUSD, row.requests]);
    };
    expect(await spend('14d')).toEqual([['alice', 17.25, 570], ['bob', 3.1, 95], ['carol', null, null]]);
    expect(await spend('31d')).toEqual([['alice', 24.25, 640], ['bob', 3.1, 95], ['carol', null, null]]);
    expect(await spend('1w')).toEqual([['alice', 14.25, 540], ['bob', 3.1, 95], ['carol', null, null]]);
  });

  it('--sort, --policy and -A choose and order the rows', async () => {
    const names = async (...args: string[]) => (JSON.parse((await teamkeys('report', '-o', 'json', ...args)).stdout) as Report).rows.map((row) => `${row.namespace}/${row.name}`);
    expect(await names('-n', ns, '--sort', 'requests')).toEqual([`${ns}/alice`, `${ns}/bob`, `${ns}/carol`]);
    expect(await names('-n', ns, '--sort', 'remaining')).toEqual([`${ns}/carol`, `${ns}/alice`, `${ns}/bob`]);
    expect(await names('-n', ns, '--sort', 'name')).toEqual([`${ns}/alice`, `${ns}/bob`, `${ns}/carol`]);
    expect(await names('-n', ns, '--policy', pro)).toEqual([`${ns}/alice`, `${ns}/bob`]);
    expect(await names('-n', other)).toEqual([`${other}/dave`]);
    // -A across namespaces (other test files' members share the cluster: the policy keeps this file's)
    expect(await names('-A', '--policy', lite)).toEqual([`${other}/dave`, `${ns}/carol`]);
    expect(await names('-A', '--policy', lite, '--sort', 'name')).toEqual([`${ns}/carol`, `${other}/dave`]);
  });

  it('says so when nothing matches, and when the policy does not exist', async () => {
    const r = await teamkeys('report', '-n', ns, '--policy', 'no-such-policy');
    expect(r).toEqual({ code: 0, stdout: '', stderr: `warning: there is no KeyPolicy named "no-such-policy"\nNo TeamMembers found in namespace ${ns} with policy no-such-policy.\n` });
  });

  it('takes the namespace from the kubeconfig context', async () => {
    const dir = await mkdtemp(join(build, 'ctx-'));
    const path = join(dir, 'kubeconfig');
    await run(kubectl, ['--kubeconfig', kubeconfig, 'config', 'view', '--raw', '--flatten', '-o', 'yaml'], {}).then((o) => writeFile(path, o.stdout));
    await run(kubectl, ['--kubeconfig', path, 'config', 'set-context', '--current', `--namespace=${other}`]);
    const r = await exec(process.execPath, [join(ROOT, 'src/main.ts'), 'report', '-o', 'csv'], { KUBECONFIG: path });
    expect(r.code).toBe(0);
    expect((parseCsv<Record<string, string>>(r.stdout, { columns: true })).map((x) => x['name'])).toEqual(['dave']);
  });
});

describe('kubectl teamkeys (the plugin)', () => {
  it('is found by kubectl', async () => {
    const r = await exec(kubectl, ['plugin', 'list'], { PATH: pluginPath });
    expect(r.stdout).toContain(join(build, 'bin/kubectl-teamkeys'));
  });

  it('report -o json, yaml, csv and wide carry the same figures', async () => {
    const json = await plugin('report', '-n', ns, '-o', 'json');
    expect(json.code).toBe(0);
    const doc = JSON.parse(json.stdout) as Report;
    expect(doc).toMatchObject({
      apiVersion: 'teamkeys.dev/v1alpha1', kind: 'UsageReport', period: { since: '7d', from: daysAgo(6), to: daysAgo(0), days: 7 }, scope: { namespace: ns, policy: null }, sort: 'cost',
      totals: { members: 3, spendUSD: 17.35, requests: 635, windowUSD: 33.6, limitUSD: 105, remainingUSD: 71.4, membersWithoutAnalytics: 1, forecastExhausting: 1 },
    });
    expect(doc.rows[0]).toEqual({
      name: 'alice', namespace: ns, policy: pro, displayName: 'Alice Liddell', email: 'alice@example.com', spendUSD: 14.25, requests: 540, analyzedAt: expect.any(String) as string,
      windowUSD: 29.5, limitUSD: 50, remainingUSD: 20.5, usedPercent: 59, reset: 'monthly', topModel: { model: 'anthropic/claude-sonnet-4', usd: 21, requests: 300 },
      forecast: { burnUSDPerDay: 5.2, projectedUSD: 61.2, exhaustsAt: EXHAUSTS }, budgetExhausted: false, ready: { status: 'True', reason: 'KeyReady', message: 'key sk-or-v1-a11...ce0 is in Secret alice-openrouter' },
    });

    const yaml = await plugin('report', '-n', ns, '-o', 'yaml');
    expect({ ...(parseYaml(yaml.stdout) as Report), generatedAt: doc.generatedAt }).toEqual(doc);

    const csv = await plugin('report', '-n', ns, '-o', 'csv');
    const records = parseCsv<Record<string, string>>(csv.stdout, { columns: true });
    expect(records.map((x) => [x['name'], x['spendUSD'], x['requests'], x['limitUSD'], x['usedPercent'], x['exhaustsAt'], x['readyReason']])).toEqual([
      ['alice', '14.25', '540', '50', '59', EXHAUSTS, 'KeyReady'],
      ['bob', '3.1', '95', '50', '6.2', '', 'SecretRejected'],
      ['carol', '', '', '5', '20', '', 'KeyReady'],
    ]);

    const wide = await plugin('report', '-n', ns, '-o', 'wide');
    expect(cells(wide.stdout.split('\n')[1])).toEqual(['alice', ns, pro, 'Alice Liddell', 'alice@example.com', '14.25', '540', '29.50', '50.00', '20.50', '59%', 'monthly', 'anthropic/claude-sonnet-4', EXHAUSTS_SHOWN, 'KeyReady']);
  });

  it('rotate sets a new teamkeys.dev/rotate value with a merge patch, each time', async () => {
    const annotation = async () => ((await custom.getNamespacedCustomObject({ ...tm, namespace: ns, name: 'alice' })) as { metadata: { annotations?: Record<string, string> } }).metadata.annotations?.['teamkeys.dev/rotate'];
    const first = await plugin('rotate', 'alice', '-n', ns, '--reason', 'key pasted in a ticket');
    expect(first.code).toBe(0);
    const value = await annotation();
    expect(value).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z key pasted in a ticket$/);
    expect(first.stdout).toContain(`teammember/alice in namespace ${ns}: rotation requested (teamkeys.dev/rotate=${value})`);
    expect(first.stdout).toContain(`kubectl get tm alice -n ${ns} -w`);
    const second = await plugin('rotate', 'alice', '-n', ns);
    expect(second.code).toBe(0);
    expect(await annotation()).not.toBe(value);
    // nothing had acted on the first value (no operator here): the second replaces it
    expect(second.stdout).toContain(`it replaces the request "${value}"`);
    // the rest of the object is untouched by the merge patch
    const m = (await custom.getNamespacedCustomObject({ ...tm, namespace: ns, name: 'alice' })) as { spec: { displayName: string } };
    expect(m.spec.displayName).toBe('Alice Liddell');

    const missing = await plugin('rotate', 'nobody', '-n', ns);
    expect(missing).toMatchObject({ code: 1, stderr: `error: TeamMember "nobody" not found (get teammembers.teamkeys.dev "nobody" in namespace "${ns}")\n` });
  });

  it('status prints the Ready reason and message, the budget and the forecast', async () => {
    const bob = await plugin('status', 'bob', '-n', ns);
    expect(bob.code).toBe(0);
    expect(bob.stdout).toContain(`${ns}/bob   policy ${pro}`);
    expect(bob.stdout).toContain('Ready     False SecretRejected: exceeded quota: secrets, requested: count/secrets=1');
    expect(bob.stdout).toContain('Budget    3.10 USD spent of 50.00 this monthly window (6.2%), 46.90 remaining');
    const all = await plugin('status', '-n', ns);
    expect([...all.stdout.matchAll(/^(\S+)\/(\S+) {3}policy/gm)].map((x) => x[2])).toEqual(['alice', 'bob', 'carol']);
    expect(all.stdout).toContain('Key       sk-or-v1-a11...ce0, issued 2026-11-02 09:00, in Secret alice-openrouter');
    expect(all.stdout).toContain(`Forecast  5.20 USD/day, 61.20 USD by the reset: runs out ${EXHAUSTS_SHOWN} UTC, before the reset`);
  });
});

describe('errors', () => {
  let viewer: string;
  beforeAll(async () => {
    const core = kc.makeApiClient(CoreV1Api);
    const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
    for (const name of ['nobody', 'viewer']) await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name } } });
    await rbac.createNamespacedRole({ namespace: ns, body: { metadata: { name: 'tm-read' }, rules: [{ apiGroups: ['teamkeys.dev'], resources: ['teammembers'], verbs: ['get', 'list'] }] } });
    await rbac.createNamespacedRoleBinding({ namespace: ns, body: { metadata: { name: 'tm-read' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'tm-read' }, subjects: [{ kind: 'ServiceAccount', name: 'viewer', namespace: ns }] } });
    viewer = `system:serviceaccount:${ns}:viewer`;
  });

  it('a user without list on teammembers is told which verb and resource were refused', async () => {
    const r = await plugin('report', '-n', ns, '--as', `system:serviceaccount:${ns}:nobody`);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(new RegExp(`^error: forbidden: you may not list teammembers.teamkeys.dev in namespace "${ns}". The API server says: .*cannot list resource "teammembers" in API group "teamkeys.dev"`));
    const direct = await teamkeys('report', '-A', '--as', `system:serviceaccount:${ns}:nobody`);
    expect(direct.stderr).toContain('error: forbidden: you may not list teammembers.teamkeys.dev across all namespaces (-A)');
  });

  it('a reader of one namespace gets its report (KeyPolicies not needed) and may not rotate', async () => {
    const r = await plugin('report', '-n', ns, '--as', viewer, '--policy', 'no-such-policy');
    // the policy cannot be checked without KeyPolicy read: no warning, no failure
    expect(r).toEqual({ code: 0, stdout: '', stderr: `No TeamMembers found in namespace ${ns} with policy no-such-policy.\n` });
    expect((await plugin('report', '-n', ns, '--as', viewer, '-o', 'csv')).stdout.split('\n')).toHaveLength(5);
    const rotate = await plugin('rotate', 'bob', '-n', ns, '--as', viewer);
    expect(rotate.code).toBe(1);
    expect(rotate.stderr).toContain(`error: forbidden: you may not patch teammembers.teamkeys.dev "bob" in namespace "${ns}"`);
  });

  it('an API without the teamkeys resources (404) is explained as CRDs not installed', async () => {
    // the real API server answering 404 for a resource path it does not serve, as for a cluster without the CRDs:
    // the kubeconfig's server carries a path prefix the API server knows nothing of
    const dir = await mkdtemp(join(build, 'nocrd-'));
    const path = join(dir, 'kubeconfig');
    const flat = await run(kubectl, ['--kubeconfig', kubeconfig, 'config', 'view', '--raw', '--flatten', '-o', 'json']);
    const config = JSON.parse(flat.stdout) as { clusters: { cluster: { server: string } }[] };
    for (const c of config.clusters) c.cluster.server = `${c.cluster.server}/no-such-prefix`;
    await writeFile(path, JSON.stringify(config));
    const r = await exec(process.execPath, [join(ROOT, 'src/main.ts'), 'report', '-n', ns, '--kubeconfig', path]);
    expect(r).toMatchObject({ code: 1, stdout: '' });
    expect(r.stderr).toBe("error: the cluster has no teammembers.teamkeys.dev/v1alpha1 API: teamkeys' CRDs are not installed (kubectl apply -k crds/ from the teamkeys repository, or the whole deploy/)\n");
  });

  it('an unreachable API server and a missing kubeconfig say so', async () => {
    const dir = await mkdtemp(join(build, 'down-'));
    const path = join(dir, 'kubeconfig');
    // a port nothing listens on any more
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    await writeFile(path, JSON.stringify({ apiVersion: 'v1', kind: 'Config', clusters: [{ name: 'c', cluster: { server: `https://127.0.0.1:${port}` } }], users: [{ name: 'u', user: { token: 't' } }], contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }], 'current-context': 'x' }));
    const down = await exec(process.execPath, [join(ROOT, 'src/main.ts'), 'report', '--kubeconfig', path]);
    expect(down).toMatchObject({ code: 1, stderr: `error: cannot reach the API server at https://127.0.0.1:${port}: ECONNREFUSED\n` });
    const none = await exec(kubectl, ['teamkeys', 'report'], { PATH: pluginPath, KUBECONFIG: '', HOME: dir });
    expect(none).toMatchObject({ code: 1, stderr: `error: no kubeconfig: set KUBECONFIG, pass --kubeconfig, or create ${join(dir, '.kube/config')}\n` });
    const context = await teamkeys('report', '--context', 'no-such-context');
    expect(context.code).toBe(1);
    expect(context.stderr).toMatch(/^error: context "no-such-context" is not in the kubeconfig \(it has: /);
  });

  it('a bad flag exits 2 through kubectl too', async () => {
    const r = await plugin('report', '--sort', 'spend');
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr).toContain("error: option '--sort <key>' argument 'spend' is invalid. Allowed choices are cost, requests, remaining, used, name.");
  });
});
