import { describe, expect, it } from 'vitest';
import { classifyFailure } from '../../src/controller/failure.ts';
import { KubeError } from '../../src/kube/errors.ts';
import { OpenRouterError } from '../../src/openrouter/errors.ts';
import { Deposed } from '../../src/util/errors.ts';

describe('classifyFailure', () => {
  it.each([
    ['a conflict', new KubeError('conflict', 409, 'x'), 'stale'],
    ['an object gone meanwhile', new KubeError('notFound', 404, 'x'), 'stale'],
    ['a refused Secret is not stale', new KubeError('invalid', 422, 'x'), 'error'],
    ['a deposed write', new Deposed('write'), 'deposed'],
    ['a 401 from OpenRouter', new OpenRouterError('unauthorized', 'GET /key', '401'), 'credentials'],
    ['a 403 from OpenRouter', new OpenRouterError('forbidden', 'GET /key', '403'), 'credentials'],
    ['a 5xx', new OpenRouterError('server', 'POST /keys', '500'), 'transient'],
    ['a 429', new OpenRouterError('rateLimited', 'POST /keys', '429'), 'transient'],
    ['a cut connection', new OpenRouterError('network', 'POST /keys', 'reset'), 'transient'],
    ['a 400', new OpenRouterError('badRequest', 'POST /keys', '400'), 'error'],
    ['anything else', new Error('boom'), 'error'],
  ] as const)('%s', (_what, e, want) => {
    expect(classifyFailure(e)).toBe(want);
  });
});
