/**
 * kubeconform's schemas, made from the API server the tests run (its /openapi/v2, which also publishes every
 * installed CRD), so manifests are checked against exactly the Kubernetes version and CRDs in use, with no
 * download. One file per kind, named as kubeconform looks them up (`{{ .ResourceKind }}{{ .KindSuffix }}.json`),
 * each carrying every definition so its `$ref`s resolve in the file. What kubeconform's own schema builder does
 * for Kubernetes is done here too: int-or-string and quantities accept a string or a number, and, strict, objects
 * refuse properties they do not declare (unless they keep unknown fields).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

type Schema = Record<string, unknown>;
interface Gvk { group: string; version: string; kind: string }
const GVK = 'x-kubernetes-group-version-kind';

function adapt(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(adapt);
  if (typeof node !== 'object' || node === null) return node;
  const s: Schema = Object.fromEntries<unknown>(Object.entries(node).map(([k, v]) => [k, k === 'properties' && typeof v === 'object' && v !== null ? Object.fromEntries(Object.entries(v).map(([p, sub]) => [p, adapt(sub)])) : adapt(v)]));
  if (s['format'] === 'int-or-string' || s['x-kubernetes-int-or-string'] === true) {
    delete s['type'];
    delete s['format'];
    return { ...s, oneOf: [{ type: 'string' }, { type: 'integer' }] };
  }
  if (s['properties'] && s['additionalProperties'] === undefined && s['x-kubernetes-preserve-unknown-fields'] !== true) s['additionalProperties'] = false;
  return s;
}

/** kubeconform's KindSuffix: "-" + the group's first label (if any) + "-" + the version, lower case. */
export function kindSuffix(g: Gvk): string {
  return `${g.group ? `-${g.group.split('.')[0]?.toLowerCase() ?? ''}` : ''}-${g.version.toLowerCase()}`;
}

/** The definitions a schema reaches through its $refs, itself included. */
function reachable(from: string, definitions: Record<string, Schema>): Record<string, Schema> {
  const seen = new Set<string>();
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (typeof node !== 'object' || node === null) return;
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') {
        const name = v.replace('#/definitions/', '');
        if (!seen.has(name)) {
          seen.add(name);
          walk(definitions[name]);
        }
      } else walk(v);
    }
  };
  seen.add(from);
  walk(definitions[from]);
  return Object.fromEntries([...seen].map((n) => [n, definitions[n] ?? {}]));
}

/** Writes a schema for every kind the document defines that `wanted` accepts (apiVersion, kind); returns how many. */
export async function writeSchemas(openapiV2: { definitions: Record<string, Schema> }, dir: string, wanted: (apiVersion: string, kind: string) => boolean): Promise<number> {
  await mkdir(dir, { recursive: true });
  const definitions = Object.fromEntries(Object.entries(openapiV2.definitions).map(([name, d]) => [name, adapt(d)])) as Record<string, Schema>;
  // a quantity ("500m", "128Mi", or a plain number) and an instant that may be null (creationTimestamp: null)
  definitions['io.k8s.apimachinery.pkg.api.resource.Quantity'] = { oneOf: [{ type: 'string' }, { type: 'number' }] };
  definitions['io.k8s.apimachinery.pkg.apis.meta.v1.Time'] = { type: ['string', 'null'], format: 'date-time' };
  let n = 0;
  for (const [name, d] of Object.entries(definitions)) {
    for (const g of (openapiV2.definitions[name]?.[GVK] as Gvk[] | undefined) ?? []) {
      if (!wanted(g.group ? `${g.group}/${g.version}` : g.version, g.kind)) continue;
      await writeFile(join(dir, `${g.kind.toLowerCase()}${kindSuffix(g)}.json`), JSON.stringify({ ...d, definitions: reachable(name, definitions) }));
      n++;
    }
  }
  return n;
}
