/**
 * Every manifest teamkeys ships, as rendered (kustomize: deploy/, its monitoring and examples; Helm: the chart with
 * its defaults and with everything switched on), checked by kubeconform, strict, against the schemas of the API
 * server the suite runs (test/integration/jsonschema.ts), prometheus-operator's CRDs included. Every image
 * reference is pinned to a version.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { CHART_DIR } from '../../hack/chart/generate.ts';
import { writeSchemas } from './jsonschema.ts';
import { eventually } from './kube.ts';
import { kubectl } from './serviceaccount.ts';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '../..');
interface Obj { apiVersion: string; kind: string; metadata?: { name?: string } }
interface Result { filename: string; kind: string; name: string; status: string; msg: string }

let dir = '';
let schemas = '';
let kubeconform = '';
const rendered: Record<string, string> = {};
const objectsOf = (text: string) => parseAllDocuments(text).map((d) => d.toJS() as Obj | null).filter((o): o is Obj => o !== null);
const ok = async (args: string[]) => {
  const r = await kubectl(args);
  if (!r.ok) throw new Error(`kubectl ${args.join(' ')}: ${r.out}`);
  return r.out;
};

async function check(files: string[]): Promise<{ resources: Result[]; summary: { valid: number; invalid: number; errors: number; skipped: number } }> {
  const r = await run(kubeconform, ['-strict', '-summary', '-verbose', '-output', 'json', '-schema-location', join(schemas, '{{ .ResourceKind }}{{ .KindSuffix }}.json'), ...files], { maxBuffer: 1 << 26 }).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }));
  return JSON.parse(r.stdout) as { resources: Result[]; summary: { valid: number; invalid: number; errors: number; skipped: number } };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'teamkeys-manifests-'));
  kubeconform = (await run('bash', [join(ROOT, 'hack/gotool.sh'), 'kubeconform'])).stdout.trim();
  const helmBin = (await run('bash', [join(ROOT, 'hack/helm.sh')])).stdout.trim();
  const crds = (await run('bash', [join(ROOT, 'hack/monitoring-crds.sh')], { cwd: ROOT })).stdout.trim();
  for (const f of ['monitoring.coreos.com_servicemonitors.yaml', 'monitoring.coreos.com_prometheusrules.yaml']) await ok(['apply', '--server-side', '--force-conflicts', '-f', join(crds, f)]);
  rendered['deploy/ (kustomize)'] = await ok(['kustomize', join(ROOT, 'deploy')]);
  rendered['deploy/monitoring/ (kustomize)'] = await ok(['kustomize', join(ROOT, 'deploy/monitoring')]);
  rendered['deploy/examples/ (kustomize)'] = await ok(['kustomize', join(ROOT, 'deploy/examples')]);
  const chart = join(ROOT, CHART_DIR);
  rendered['the Helm chart, defaults'] = (await run(helmBin, ['template', 'teamkeys', chart, '--namespace', 'teamkeys-system'], { maxBuffer: 1 << 26 })).stdout;
  rendered['the Helm chart, monitoring on'] = (await run(helmBin, ['template', 'teamkeys', chart, '--namespace', 'teamkeys-system', '--set', 'monitoring.serviceMonitor.enabled=true', '--set', 'monitoring.prometheusRule.enabled=true', '--set', 'replicas=3'], { maxBuffer: 1 << 26 })).stdout;
  const kinds = new Set(Object.values(rendered).flatMap((t) => objectsOf(t).map((o) => `${o.apiVersion}|${o.kind}`)));
  // the API server publishes a CRD's schema in /openapi/v2 shortly after it is Established
  const openapi = await eventually(async () => {
    const doc = JSON.parse(await ok(['get', '--raw', '/openapi/v2'])) as { definitions: Record<string, Record<string, unknown>> };
    return Object.keys(doc.definitions).some((d) => d.endsWith('monitoring.v1.ServiceMonitor')) ? doc : undefined;
  }, 60_000, 'ServiceMonitor in /openapi/v2');
  schemas = join(dir, 'schemas');
  await writeSchemas(openapi, schemas, (apiVersion, kind) => kinds.has(`${apiVersion}|${kind}`) || kind === 'Deployment');
  if ((await readdir(schemas)).length < kinds.size) throw new Error(`schemas for ${(await readdir(schemas)).join(', ')}; the manifests hold ${[...kinds].join(', ')}`);
  for (const [i, text] of Object.values(rendered).entries()) await writeFile(join(dir, `rendered-${i}.yaml`), text);
}, 300_000);

describe('kubeconform, strict, against the running API server\'s schemas', () => {
  it.each(Object.keys({ 'deploy/ (kustomize)': 0, 'deploy/monitoring/ (kustomize)': 0, 'deploy/examples/ (kustomize)': 0, 'the Helm chart, defaults': 0, 'the Helm chart, monitoring on': 0 }))('accepts every object of %s', async (what) => {
    const i = Object.keys(rendered).indexOf(what);
    const { resources: results, summary } = await check([join(dir, `rendered-${i}.yaml`)]);
    expect(results.filter((r) => r.status !== 'statusValid').map((r) => `${r.kind}/${r.name}: ${r.status} ${r.msg}`)).toEqual([]);
    expect(summary).toMatchObject({ invalid: 0, errors: 0, skipped: 0 });
    expect(summary.valid).toBe(objectsOf(rendered[what] ?? '').length);
  });

  it('refuses what the API server would: a misspelt field, a wrong type, a bad TeamMember', async () => {
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, [
      'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: typo}\nspec: {replicsa: 2, selector: {matchLabels: {a: b}}, template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c, image: x:1}]}}}',
      'apiVersion: v1\nkind: Service\nmetadata: {name: port}\nspec: {ports: [{port: "eighty"}]}',
      'apiVersion: teamkeys.dev/v1alpha1\nkind: TeamMember\nmetadata: {name: m}\nspec: {policy: p, limitUSD: -1}',
    ].join('\n---\n'));
    const { resources: results } = await check([bad]);
    expect(results.map((r) => `${r.name} ${r.status}`).toSorted((a, b) => a.localeCompare(b))).toEqual(['m statusInvalid', 'port statusInvalid', 'typo statusInvalid']);
    expect(results.find((r) => r.name === 'typo')?.msg).toMatch(/additional properties 'replicsa' not allowed/);
    expect(results.find((r) => r.name === 'm')?.msg).toMatch(/\/spec\/limitUSD': minimum: got -1, want 0/);
  });
});

it('pins every image it ships to a version (no :latest, no bare name)', () => {
  const images = Object.values(rendered).flatMap((t) => [...t.matchAll(/^\s*image:\s*"?([^"\s]+)"?\s*$/gm)].map((m) => m[1] ?? ''));
  expect(images.length).toBeGreaterThan(0);
  for (const image of images) expect(image).toMatch(/^[a-z0-9./-]+(:[A-Za-z0-9._-]+|@sha256:[0-9a-f]{64})$/);
  for (const image of images) expect(image).not.toMatch(/:latest$/);
});
