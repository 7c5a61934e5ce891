/**
 * Contract tests (issue 23): OpenRouter's official OpenAPI document against the client's zod schemas. Every example
 * the document gives for a response the client reads must parse with the schema the client reads it with: an
 * example that does not is an answer the operator would refuse as invalidResponse in production.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { z } from 'zod';
import * as S from '../../src/openrouter/schemas.ts';

interface Schema { $ref?: string; allOf?: Schema[]; example?: unknown; required?: string[]; properties?: Record<string, Schema>; items?: Schema }
interface Media { example?: unknown; examples?: Record<string, { $ref?: string; value?: unknown }>; schema?: Schema }
interface Response { $ref?: string; content?: Record<string, Media> }
type Doc = { paths: Record<string, Record<string, { responses?: Record<string, Response> }>> };

const ROOT = join(import.meta.dirname, '../..');
const doc = parse(readFileSync(join(ROOT, 'spec/openrouter/openapi-management.yaml'), 'utf8')) as Doc;

/** Follows local `#/...` references, the only kind the document uses. */
function deref<T extends { $ref?: string }>(node: T): T {
  let n: T = node;
  while (typeof n.$ref === 'string') {
    const at = n.$ref.slice(2).split('/').map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'));
    n = at.reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], doc) as T;
  }
  return n;
}

/** A schema with its references followed and an allOf merged (the guardrail envelopes are `allOf: [Guardrail, ...]`). */
function flat(node: Schema): Schema {
  const s = deref(node);
  if (!s.allOf) return s;
  const parts = s.allOf.map(flat);
  return { ...s, required: parts.flatMap((p) => p.required ?? []), properties: Object.assign({}, ...parts.map((p) => p.properties)) as Record<string, Schema>, items: parts.find((p) => p.items)?.items };
}

const split = (route: string) => {
  const [method = '', path = ''] = route.split(' ');
  return { method: method.toLowerCase(), path };
};
const responses = (route: string): Record<string, Response> => {
  const { method, path } = split(route);
  return doc.paths[path]?.[method]?.responses ?? {};
};
const bodySchema = (route: string, status: number): Schema | undefined => {
  const s = deref(responses(route)[String(status)] ?? {}).content?.['application/json']?.schema;
  return s && deref(s);
};

/** Every whole-body example the document gives for one response: the media type's, its named ones, the body schema's. */
function examples(route: string, status: string): Array<[string, unknown]> {
  const media = deref(responses(route)[status] ?? {}).content?.['application/json'];
  if (!media) return [];
  const out: Array<[string, unknown]> = [];
  if (media.example !== undefined) out.push(['example', media.example]);
  for (const [name, ex] of Object.entries(media.examples ?? {})) if (deref(ex).value !== undefined) out.push([`examples.${name}`, deref(ex).value]);
  const schema = media.schema && deref(media.schema);
  if (schema?.example !== undefined) out.push([media.schema?.$ref ? `${media.schema.$ref}.example` : 'schema.example', schema.example]);
  return out;
}

/** Where a zod parse went wrong, by field path: what a failing row prints. */
const issues = (schema: z.ZodType, body: unknown) => {
  const r = schema.safeParse(body);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`);
};

type Entity = 'key' | 'guardrail' | 'assignment';
interface Row { route: string; status: number; schema: z.ZodType; entity?: Entity }

/**
 * The success answer of every route the client calls (client.ts, guardrails.ts, analytics.ts) and the schema it
 * parses it with. `entity` names the object under `data` whose required fields section 3 checks.
 */
const CONTRACT: Row[] = [
  { route: 'GET /key', status: 200, schema: S.CurrentKey },
  { route: 'GET /keys', status: 200, schema: S.KeyList, entity: 'key' },
  { route: 'POST /keys', status: 201, schema: S.CreatedKey, entity: 'key' },
  { route: 'GET /keys/{hash}', status: 200, schema: S.KeyEnvelope, entity: 'key' },
  { route: 'PATCH /keys/{hash}', status: 200, schema: S.KeyEnvelope, entity: 'key' },
  { route: 'DELETE /keys/{hash}', status: 200, schema: S.Deleted },
  { route: 'GET /workspaces/{id}', status: 200, schema: S.Workspace },
  { route: 'POST /workspaces', status: 201, schema: S.Workspace },
  { route: 'DELETE /workspaces/{id}', status: 200, schema: S.Deleted },
  { route: 'GET /workspaces/{id}/budgets', status: 200, schema: S.WorkspaceBudgetList },
  { route: 'PUT /workspaces/{id}/budgets/{interval}', status: 200, schema: S.WorkspaceBudgetEnvelope },
  { route: 'DELETE /workspaces/{id}/budgets/{interval}', status: 200, schema: S.Deleted },
  { route: 'GET /guardrails', status: 200, schema: S.GuardrailList, entity: 'guardrail' },
  { route: 'POST /guardrails', status: 201, schema: S.GuardrailEnvelope, entity: 'guardrail' },
  { route: 'GET /guardrails/{id}', status: 200, schema: S.GuardrailEnvelope, entity: 'guardrail' },
  { route: 'PATCH /guardrails/{id}', status: 200, schema: S.GuardrailEnvelope, entity: 'guardrail' },
  { route: 'DELETE /guardrails/{id}', status: 200, schema: S.Deleted },
  { route: 'GET /guardrails/{id}/assignments/keys', status: 200, schema: S.KeyAssignmentList, entity: 'assignment' },
  { route: 'POST /guardrails/{id}/assignments/keys', status: 200, schema: S.Assigned },
  { route: 'POST /guardrails/{id}/assignments/keys/remove', status: 200, schema: S.Unassigned },
  { route: 'GET /analytics/meta', status: 200, schema: S.AnalyticsMeta },
  { route: 'POST /analytics/query', status: 200, schema: S.AnalyticsAnswer },
];

/** The routes the client calls, read from the route labels the adapters pass to call()/request(). */
const SRC = join(ROOT, 'src/openrouter');
const CALLED = [...new Set(
  readdirSync(SRC).filter((f) => f.endsWith('.ts'))
    .flatMap((f) => [...readFileSync(join(SRC, f), 'utf8').matchAll(/['"`]((?:GET|POST|PUT|PATCH|DELETE) \/[^'"`?\s]*)['"`]/g)].map((m) => m[1] ?? '')),
)].toSorted();

describe('every example of a response the client reads parses with its schema', () => {
  for (const row of CONTRACT) {
    for (const [where, body] of examples(row.route, String(row.status))) {
      it(`${row.route} ${row.status} ${where}`, () => expect(issues(row.schema, body)).toEqual([]));
    }
  }
});

/**
 * The analytics envelope leaves its rows to UsageQueryRow, one by one (a bad row costs only itself). The document's
 * example answers another query (request_count by day), so the columns the client's query asks for and that one
 * did not are filled in: what is checked is the document's time column and the form of its counts.
 */
describe("every row of an analytics query example parses with the client's row schema", () => {
  const ASKED = { api_key_id: 'key', model: 'model', total_usage: 0 };
  for (const [where, body] of examples('POST /analytics/query', '200')) {
    const rows = (body as { data?: { data?: Array<Record<string, unknown>> } }).data?.data ?? [];
    rows.forEach((row, i) => it(`POST /analytics/query 200 ${where} row ${i}`, () => expect(issues(S.UsageQueryRow, { ...ASKED, ...row })).toEqual([])));
  }
});

describe('every error example of a route the client calls parses as an error body', () => {
  for (const route of CALLED) {
    for (const status of Object.keys(responses(route)).filter((s) => Number(s) >= 400)) {
      for (const [where, body] of examples(route, status)) {
        it(`${route} ${status} ${where}`, () => expect(issues(S.ErrorBody, body)).toEqual([]));
      }
    }
  }
});

describe('the contract table covers exactly what the client calls', () => {
  it.each(CALLED)('%s is in the document, with a row and an example for each success status', (route) => {
    const success = Object.keys(responses(route)).filter((s) => s.startsWith('2')).map(Number);
    expect(success, `${route} is not in the document`).not.toEqual([]);
    const rows = CONTRACT.filter((r) => r.route === route);
    expect(rows.map((r) => r.status).toSorted((a, b) => a - b)).toEqual(success.toSorted((a, b) => a - b));
    for (const r of rows) expect(examples(r.route, String(r.status)), `${route} ${r.status} has no example`).not.toEqual([]);
  });

  it.each(CONTRACT.map((r) => [`${r.route} ${r.status}`, r] as const))('row %s names a route and status of the document that the client calls', (_, row) => {
    expect(responses(row.route)[String(row.status)], 'not in the document').toBeDefined();
    expect(CALLED.includes(row.route), 'the client does not call it').toBe(true);
  });
});

/**
 * Fields the document requires of an object but the client deliberately does not read, and why. A field the
 * document newly requires fails its row until it is read by the client's schema or listed here.
 */
const IGNORED: Record<Entity, Record<string, string>> = {
  key: { creator_user_id: 'keys are named and labelled by the operator; who created one is not used' },
  guardrail: {
    include_byok_in_budgets: 'the operator sets no guardrail budget (limit_usd): budgets live on keys',
    created_at: 'guardrails are matched by name, their age is not used',
  },
  assignment: {
    id: 'an assignment is identified by key_hash + guardrail_id',
    key_name: 'the key is known by its hash', key_label: 'the key is known by its hash',
    assigned_by: 'not used', created_at: 'not used',
  },
};
const CLIENT: Record<Entity, { shape: Record<string, z.ZodType> }> = {
  key: S.ApiKey, guardrail: S.ApiGuardrail, assignment: S.KeyAssignmentList.shape.data.element,
};

/** The object under `data` of a success answer (or of its items, for a list). */
const entitySchema = (row: Row): Schema => {
  const data = flat(bodySchema(row.route, row.status)?.properties?.['data'] ?? {});
  return data.items ? flat(data.items) : data;
};

describe("the document's required fields of the key, guardrail and assignment objects are read or knowingly ignored", () => {
  for (const row of CONTRACT.filter((r): r is Row & { entity: Entity } => r.entity !== undefined)) {
    const required = entitySchema(row).required ?? [];
    const shape = CLIENT[row.entity].shape;
    it(`${row.route} ${row.status}: the document declares required fields for the ${row.entity}`, () => expect(required).not.toEqual([]));
    for (const field of required) {
      it(`${row.route} ${row.status}: ${row.entity}.${field} is read or ignored`, () => {
        expect(field in shape || field in IGNORED[row.entity], `${field} is neither read nor in IGNORED.${row.entity}`).toBe(true);
      });
    }
    // the reverse: a field the client insists on but the document calls optional would refuse a valid answer
    it(`${row.route} ${row.status}: every field the client requires of the ${row.entity}, the document requires`, () => {
      const insisted = Object.entries(shape).filter(([, s]) => !s.safeParse(undefined).success).map(([f]) => f);
      expect(insisted.filter((f) => !required.includes(f))).toEqual([]);
    });
    it(`${row.route} ${row.status}: IGNORED.${row.entity} lists only fields the document still requires`, () => {
      expect(Object.keys(IGNORED[row.entity]).filter((f) => !required.includes(f))).toEqual([]);
    });
  }
});
