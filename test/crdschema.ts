/**
 * Test helper for invariant 11: is a status the operator computed one the API server would store as it is?
 *
 * It validates against the `status` part of the generated CRDs in crds/ (not the zod schemas they come from), with
 * what the API server enforces: type, required, enum, nullable, minimum/maximum (and OpenAPI's boolean
 * exclusiveMinimum/Maximum), multipleOf, min/maxLength, pattern, format, min/maxItems, min/maxProperties,
 * x-kubernetes-int-or-string and x-kubernetes-list-type (set and map: no duplicates). CEL rules
 * (x-kubernetes-validations) are not evaluated. A field the schema does not know is an error too: the API server
 * would prune it silently, and a value the operator writes but never gets back is a bug. Likewise a null in a
 * field that is not nullable (dropped) and a number JSON cannot carry (NaN, Infinity: sent as null).
 *
 * Each CRD is read and compiled once per process, on first use.
 */
import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { parseAllDocuments } from 'yaml';

export type StatusKind = 'TeamMember' | 'KeyPolicy';

const FILES: Record<StatusKind, string> = {
  TeamMember: 'teamkeys.dev_teammembers.yaml',
  KeyPolicy: 'teamkeys.dev_keypolicies.yaml',
};

type Node = { [k: string]: unknown };

/** Keywords the API server validates a value with; everything else (description, default, x-*) is left out. */
const VALUE_KEYWORDS = [
  'type', 'format', 'pattern', 'enum', 'minimum', 'maximum', 'multipleOf', 'minLength', 'maxLength', 'minItems', 'maxItems',
  'uniqueItems', 'minProperties', 'maxProperties', 'required', 'nullable',
] as const;
const JUNCTORS = ['allOf', 'anyOf', 'oneOf'] as const;

/** Formats the API server knows by another name, or that ajv-formats lacks: checked loosely or not at all. */
const EXTRA_FORMATS: Record<string, RegExp | true> = {
  datetime: /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i,
  cidr: /^[0-9a-f:.]+\/\d{1,3}$/i,
  mac: /^([0-9a-f]{2}[:-]){5}[0-9a-f]{2}$/i,
  bsonobjectid: /^[0-9a-f]{24}$/i,
};

const isNode = (v: unknown): v is Node => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A Kubernetes structural schema as JSON Schema for ajv. `structural` is false inside allOf/anyOf/oneOf/not, which
 * only validate values: pruning follows a node's own properties, never a junctor's.
 */
function toAjv(s: Node, structural: boolean, formats: Set<string>): Node {
  const out: Node = {};
  for (const k of VALUE_KEYWORDS) if (s[k] !== undefined) out[k] = s[k];
  // OpenAPI v3.0: exclusiveMinimum/Maximum are booleans qualifying minimum/maximum
  if (s['exclusiveMinimum'] === true && typeof s['minimum'] === 'number') {
    out['exclusiveMinimum'] = s['minimum'];
    delete out['minimum'];
  }
  if (s['exclusiveMaximum'] === true && typeof s['maximum'] === 'number') {
    out['exclusiveMaximum'] = s['maximum'];
    delete out['maximum'];
  }
  if (typeof s['format'] === 'string') formats.add(s['format']);
  const all: Node[] = [];
  for (const j of JUNCTORS) {
    const list = s[j];
    if (Array.isArray(list)) all.push({ [j]: list.filter(isNode).map((x) => toAjv(x, false, formats)) });
  }
  if (isNode(s['not'])) out['not'] = toAjv(s['not'], false, formats);
  if (s['x-kubernetes-int-or-string'] === true) {
    delete out['type'];
    all.push({ anyOf: [{ type: 'integer' }, { type: 'string' }, ...(s['nullable'] === true ? [{ type: 'null' }] : [])] });
  }
  if (all.length > 0) out['allOf'] = all;
  // ajv refuses nullable without type (a node without type admits null anyway)
  if (out['type'] === undefined) delete out['nullable'];

  const properties = s['properties'];
  if (isNode(properties)) {
    const props: Node = {};
    for (const [name, sub] of Object.entries(properties)) if (isNode(sub)) props[name] = toAjv(sub, structural, formats);
    out['properties'] = props;
  }
  if (s['x-kubernetes-embedded-resource'] === true) {
    const props = (out['properties'] ?? {}) as Node;
    out['properties'] = { apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: { type: 'object' }, ...props };
  }
  const additional = s['additionalProperties'];
  if (isNode(additional)) out['additionalProperties'] = toAjv(additional, structural, formats);
  else if (structural && additional !== true && s['x-kubernetes-preserve-unknown-fields'] !== true && (s['type'] === 'object' || isNode(properties))) {
    // what the API server prunes is reported as an unknown field
    out['additionalProperties'] = false;
  }
  if (isNode(s['items'])) out['items'] = toAjv(s['items'], structural, formats);
  if (s['x-kubernetes-list-type'] === 'set') out['uniqueItems'] = true;
  if (s['x-kubernetes-list-type'] === 'map' && Array.isArray(s['x-kubernetes-list-map-keys'])) out[LIST_MAP_KEYS] = s['x-kubernetes-list-map-keys'];
  return out;
}

const LIST_MAP_KEYS = 'listMapKeys';

function statusSchemaOf(kind: StatusKind): Node {
  const url = new URL(`../crds/${FILES[kind]}`, import.meta.url);
  for (const doc of parseAllDocuments(readFileSync(url, 'utf8'))) {
    const crd: unknown = doc.toJS();
    if (!isNode(crd) || !isNode(crd['spec'])) continue;
    const spec = crd['spec'];
    if (!isNode(spec['names']) || spec['names']['kind'] !== kind || !Array.isArray(spec['versions'])) continue;
    const versions = spec['versions'].filter(isNode);
    const version = versions.find((v) => v['storage'] === true) ?? versions[0];
    const schema = isNode(version?.['schema']) ? version['schema']['openAPIV3Schema'] : undefined;
    const status = isNode(schema) && isNode(schema['properties']) ? schema['properties']['status'] : undefined;
    if (!isNode(status)) throw new Error(`${url.pathname}: the ${kind} CRD has no status schema`);
    return status;
  }
  throw new Error(`${url.pathname}: no CustomResourceDefinition of kind ${kind}`);
}

let ajv: Ajv | undefined;
const compiled = new Map<StatusKind, ValidateFunction>();

function validator(kind: StatusKind): ValidateFunction {
  const known = compiled.get(kind);
  if (known) return known;
  ajv ??= makeAjv();
  const formats = new Set<string>();
  const schema = toAjv(statusSchemaOf(kind), true, formats);
  for (const f of formats) if (!ajv.formats[f]) ajv.addFormat(f, EXTRA_FORMATS[f] ?? true);
  const v = ajv.compile(schema);
  compiled.set(kind, v);
  return v;
}

function makeAjv(): Ajv {
  // strictNumbers: NaN and Infinity are not numbers on the wire; verbose: errors carry the value, for messages
  const a = new Ajv({ allErrors: true, strict: false, strictNumbers: true, verbose: true, logger: false });
  addFormats.default(a);
  a.addKeyword({
    keyword: LIST_MAP_KEYS,
    type: 'array',
    schemaType: 'array',
    errors: false,
    validate: (keys: string[], data: unknown[]) => {
      const seen = new Set<string>();
      for (const item of data) {
        const id = JSON.stringify(keys.map((k) => (isNode(item) ? item[k] : undefined)));
        if (seen.has(id)) return false;
        seen.add(id);
      }
      return true;
    },
  });
  return a;
}

/**
 * The ways the API server would refuse or alter this status, one line each as `status.path: what`; empty when it
 * stores the status exactly as written.
 */
export function statusErrors(kind: StatusKind, status: unknown): string[] {
  const errors: string[] = [];
  const wire = onTheWire(status, 'status', errors);
  const validate = validator(kind);
  if (!validate(wire)) for (const e of validate.errors ?? []) errors.push(describe(e));
  return errors;
}

/** The value as JSON.stringify sends it, noting what JSON cannot carry. */
function onTheWire(v: unknown, path: string, errors: string[]): unknown {
  switch (typeof v) {
    case 'number':
      if (Number.isFinite(v)) return v;
      errors.push(`${path}: ${v} is not a JSON number (it would be sent as null)`);
      return null;
    case 'string':
    case 'boolean':
      return v;
    case 'bigint':
      errors.push(`${path}: a bigint cannot be sent as JSON`);
      return null;
    case 'object': {
      if (v === null) return null;
      if (typeof (v as { toJSON?: unknown }).toJSON === 'function') return onTheWire((v as { toJSON: () => unknown }).toJSON(), path, errors);
      if (Array.isArray(v)) {
        return v.map((x, i) => {
          if (x === undefined || typeof x === 'function' || typeof x === 'symbol') errors.push(`${path}[${i}]: ${typeof x} in a list (it would be sent as null)`);
          return onTheWire(x, `${path}[${i}]`, errors);
        });
      }
      const out: Node = {};
      for (const [k, x] of Object.entries(v)) {
        if (x === undefined || typeof x === 'function' || typeof x === 'symbol') continue; // JSON leaves it out
        out[k] = onTheWire(x, `${path}.${k}`, errors);
      }
      return out;
    }
    case 'undefined':
    case 'function':
    case 'symbol':
      return null; // (only reached at the top: a property is left out, a list item reported above)
  }
}

/** A JSON pointer as the API server names a field: status.budget.retiredKeys[3].hash */
function fieldPath(pointer: string): string {
  let out = 'status';
  for (const raw of pointer.split('/').slice(1)) {
    const seg = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    out += /^\d+$/.test(seg) ? `[${seg}]` : `.${seg}`;
  }
  return out;
}

function shown(v: unknown): string {
  if (Array.isArray(v)) return `${v.length} items`;
  if (isNode(v)) return `${Object.keys(v).length} properties`;
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 80 ? `${s.slice(0, 77)}... (${typeof v === 'string' ? `${v.length} characters` : 'long'})` : s;
}

function describe(e: ErrorObject): string {
  const path = fieldPath(e.instancePath);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties':
      return `${path}.${String(p['additionalProperty'])}: unknown field (the API server prunes it)`;
    case 'type':
      return e.data === null
        ? `${path}: null in a field that is not nullable (the API server drops it)`
        : `${path}: ${e.message ?? 'wrong type'}, got ${shown(e.data)}`;
    case 'enum':
      return `${path}: ${shown(e.data)} is not one of ${JSON.stringify(p['allowedValues'])}`;
    case 'required':
      return `${path}.${String(p['missingProperty'])}: required`;
    case LIST_MAP_KEYS:
      return `${path}: duplicate entries for the keys ${JSON.stringify(e.schema)} (x-kubernetes-list-type: map)`;
    case 'uniqueItems':
      return `${path}: duplicate entries (x-kubernetes-list-type: set)`;
    default:
      return `${path}: ${e.message ?? e.keyword} (got ${shown(e.data)})`;
  }
}
