/**
 * OpenRouter answers the operator must not trust: the call commits at the emulator, then its answer is broken
 * (src/emulator/faults.ts MALFORMED). The client refuses each with a typed error (OpenRouterError, kind
 * invalidResponse) naming the route and the field, never crashes and never returns the broken data. Pure data:
 * test/emulator/answers.test.ts runs them, hack/readme/refusals.ts lists them in docs/security.md.
 */
import type { Malformed } from '../../src/emulator/faults.ts';

/** The client calls the runner knows how to make. */
export type Call = 'currentKey' | 'listKeys' | 'getKey' | 'createKey' | 'updateKey' | 'deleteKey' | 'listGuardrails' | 'createGuardrail' | 'assignedKeys';

export interface AnswerCase {
  what: string;
  /** the emulator route whose answer is broken */
  route: string;
  answer: Malformed;
  call: Call;
  /** what the error message names */
  names: RegExp;
}

const row = (what: string, route: string, answer: Malformed, call: Call, names: RegExp): AnswerCase => ({ what, route, answer, call, names });

export const ANSWER_CASES: readonly AnswerCase[] = [
  row('a key list that is an HTML page', 'GET /api/v1/keys', 'notJson', 'listKeys', /GET \/keys: unexpected response: a body that is not JSON \(text\/html, \d+ bytes\)/),
  row('a key list cut off half way', 'GET /api/v1/keys', 'truncated', 'listKeys', /GET \/keys: unexpected response: a body that is not JSON/),
  row('a key list whose keys lack hash and name', 'GET /api/v1/keys', 'missingFields', 'listKeys', /GET \/keys: unexpected response: data\.0\.\w+: Invalid input/),
  row('a key list with numbers as strings', 'GET /api/v1/keys', 'wrongTypes', 'listKeys', /GET \/keys: unexpected response: data\.0\.\w+: Invalid input/),
  row('a key list whose data is null', 'GET /api/v1/keys', 'nullData', 'listKeys', /GET \/keys: unexpected response: data/),
  row('an empty answer to reading a key', 'GET /api/v1/keys/{hash}', 'empty', 'getKey', /GET \/keys\/\{hash\}: unexpected response: an empty body/),
  row('a created key without its fields (the key string is there)', 'POST /api/v1/keys', 'missingFields', 'createKey', /POST \/keys: unexpected response: data\.\w+/),
  row('a created key with numbers as strings', 'POST /api/v1/keys', 'wrongTypes', 'createKey', /POST \/keys: unexpected response: data\.\w+/),
  row('a created key answered with an HTML page', 'POST /api/v1/keys', 'notJson', 'createKey', /POST \/keys: unexpected response: a body that is not JSON/),
  row('a key update answered with wrong types', 'PATCH /api/v1/keys/{hash}', 'wrongTypes', 'updateKey', /PATCH \/keys\/\{hash\}: unexpected response: data\.\w+/),
  row('a key deletion answered cut off', 'DELETE /api/v1/keys/{hash}', 'truncated', 'deleteKey', /DELETE \/keys\/\{hash\}: unexpected response: a body that is not JSON/),
  row('the management key\'s own description with data null', 'GET /api/v1/key', 'nullData', 'currentKey', /GET \/key: unexpected response: data/),
  row('the management key\'s own description with is_management_key as a string', 'GET /api/v1/key', 'wrongTypes', 'currentKey', /GET \/key: unexpected response: data\.\w+/),
  row('a guardrail list with wrong types', 'GET /api/v1/guardrails', 'wrongTypes', 'listGuardrails', /GET \/guardrails: unexpected response: (data\.0\.\w+|total_count)/),
  row('a created guardrail without its fields', 'POST /api/v1/guardrails', 'missingFields', 'createGuardrail', /POST \/guardrails: unexpected response: data\.\w+/),
  row('a guardrail\'s key assignments that are not JSON', 'GET /api/v1/guardrails/{id}/assignments/keys', 'notJson', 'assignedKeys', /GET \/guardrails\/\{id\}\/assignments\/keys: unexpected response: a body that is not JSON/),
];
