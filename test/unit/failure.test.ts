import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { classifyFailure, failureResult, requeue, type Ended, type FailureHooks, type Requeue } from '../../src/controller/failure.ts';
import type { WorkItem } from '../../src/controller/workitem.ts';
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

describe('failureResult', () => {
  const item: WorkItem = { kind: 'member', namespace: 'n', name: 'm' };
  function hooks() {
    const seen = { rechecks: 0, held: [] as WorkItem[] };
    const h: FailureHooks = {
      log: pino({ level: 'silent' }),
      recheckCredentials: async () => {
        seen.rechecks++;
      },
      held: (i) => seen.held.push(i),
    };
    return { h, seen };
  }

  it('retries a stale read quietly, and drops a deposed one', async () => {
    const { h, seen } = hooks();
    expect(await failureResult(new KubeError('conflict', 409, 'x'), item, h)).toEqual({ retry: true });
    expect(await failureResult(new Deposed('write'), item, h)).toEqual({});
    expect(seen).toEqual({ rechecks: 0, held: [] });
  });

  it('rechecks a refused management key and comes back in 30 s', async () => {
    const { h, seen } = hooks();
    expect(await failureResult(new OpenRouterError('unauthorized', 'GET /key', '401'), item, h)).toEqual({ requeueAfterMs: 30_000 });
    expect(seen.rechecks).toBe(1);
  });

  it('holds an item OpenRouter was unavailable for, to run it again once OpenRouter answers', async () => {
    const { h, seen } = hooks();
    expect(await failureResult(new OpenRouterError('server', 'POST /keys', '500'), item, h)).toEqual({ retry: true });
    expect(seen.held).toEqual([item]);
  });

  it('throws anything else again', async () => {
    const { h } = hooks();
    await expect(failureResult(new Error('boom'), item, h)).rejects.toThrow('boom');
  });
});

describe('requeue', () => {
  function queue() {
    const ops: string[] = [];
    const q: Requeue<string> = {
      forget: (k) => ops.push(`forget ${k}`),
      addAfter: (k, ms) => ops.push(`after ${k} ${ms}`),
      addRateLimited: (k) => ops.push(`backoff ${k}`),
    };
    return { q, ops };
  }

  it.each([
    ['done', { result: {} }, ['forget k']],
    ['due again later', { result: { requeueAfterMs: 5_000 } }, ['forget k', 'after k 5000']],
    ['a retry', { result: { retry: true } }, ['backoff k']],
    ['a retry that asked for a delay too', { result: { retry: true, requeueAfterMs: 5_000 } }, ['backoff k']],
    ['an error', { error: new Error('boom') }, ['backoff k']],
  ] as const)('%s', (_what, ended: Ended, want) => {
    const { q, ops } = queue();
    requeue(q, 'k', ended);
    expect(ops).toEqual(want);
  });
});
