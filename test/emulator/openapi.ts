/** Validates emulator responses against OpenRouter's official OpenAPI 3.1 document, with Ajv (JSON Schema 2020-12). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { parse } from 'yaml';

const SPEC = join(import.meta.dirname, '../../spec/openrouter/openapi-management.yaml');
const doc = parse(readFileSync(SPEC, 'utf8')) as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };

const ajv = new Ajv2020({ strict: false, allErrors: true });
// ajv-formats is CommonJS: under ESM its plugin function is the module's `default` property
addFormatsModule.default(ajv);
for (const f of ['double', 'float', 'int32', 'int64']) ajv.addFormat(f, true);
ajv.addSchema(doc, 'openrouter');

const cache = new Map<string, ValidateFunction>();
const esc = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');

/** The generic error schemas, used when a path does not declare the status the emulator returned. */
const ERROR_SCHEMAS: Record<number, string> = {
  400: 'BadRequestResponse', 401: 'UnauthorizedResponse', 403: 'ForbiddenResponse', 404: 'NotFoundResponse',
  408: 'RequestTimeoutResponse', 429: 'TooManyRequestsResponse', 500: 'InternalServerResponse',
};

export interface Verdict {
  declared: boolean;
  errors: string[];
}

/**
 * Validates a body for `METHOD /path/{template}` and status. A status the document does not declare for that
 * path is checked against the document's generic error schema for that code, and reported as undeclared.
 */
export function validateResponse(method: string, path: string, status: number, body: unknown): Verdict {
  const op = doc.paths[path]?.[method.toLowerCase()];
  if (!op) return { declared: false, errors: [`${method} ${path} is not in the document`] };
  const declared = String(status) in op.responses;
  let ref: string;
  if (declared) ref = `openrouter#/paths/${esc(path)}/${method.toLowerCase()}/responses/${status}/content/application~1json/schema`;
  else if (ERROR_SCHEMAS[status] ?? status >= 500) ref = `openrouter#/components/schemas/${ERROR_SCHEMAS[status] ?? 'InternalServerResponse'}`;
  else return { declared: false, errors: [`no schema for status ${status}`] };
  let validate = cache.get(ref);
  if (!validate) {
    validate = ajv.compile({ $ref: ref });
    cache.set(ref, validate);
  }
  const ok = validate(body);
  return { declared, errors: ok ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`) };
}
