/**
 * Answers not to trust (test/refusals/openrouter.ts): each call commits at the emulator and is answered with a
 * broken body. The client throws a typed OpenRouterError (invalidResponse) naming the route and the field, and
 * never hands the broken data on; the key string of a created key never reaches the error.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { OpenRouterClient } from '../../src/openrouter/client.ts';
import { OpenRouterError } from '../../src/openrouter/errors.ts';
import { OpenRouterGuardrails } from '../../src/openrouter/guardrails.ts';
import { ANSWER_CASES, type Call } from '../refusals/openrouter.ts';
import { startEmulator, type Harness } from './harness.ts';

let h: Harness;
let client: OpenRouterClient;
let guardrails: OpenRouterGuardrails;
beforeAll(async () => {
  h = await startEmulator();
  client = h.client();
  guardrails = new OpenRouterGuardrails(client);
});
afterAll(() => h.stop());
beforeEach(() => h.emu.reset());

const drain = async <T>(items: AsyncIterable<T>) => {
  const all: T[] = [];
  for await (const x of items) all.push(x);
  return all;
};

/** Each call on an account that has one key and one guardrail. */
function calls(hash: string, guardrailId: string): Record<Call, () => Promise<unknown>> {
  return {
    currentKey: () => client.currentKey(),
    listKeys: () => drain(client.listKeys()),
    getKey: () => client.getKey(hash),
    createKey: () => client.createKey({ name: 'new', limit: 5, limit_reset: 'monthly', include_byok_in_limit: false, expires_at: null }),
    updateKey: () => client.updateKey(hash, { limit: 7 }),
    deleteKey: () => client.deleteKey(hash),
    listGuardrails: () => drain(guardrails.list(undefined)),
    createGuardrail: () => guardrails.create('g2', 'second', undefined, { zeroDataRetention: false, allowedModels: ['openai/gpt-4o-mini'] }),
    assignedKeys: () => drain(guardrails.assignedKeys(guardrailId)),
  };
}

describe('the client refuses a broken answer with a typed error', () => {
  it.each(ANSWER_CASES.map((c) => [c.what, c] as const))('%s', async (_what, c) => {
    const { hash } = h.emu.store.createKey({ name: 'existing', limit: 5 }).key;
    const g = await guardrails.create('g', 'first', undefined, { zeroDataRetention: false, allowedModels: ['openai/gpt-4o-mini'] });
    h.emu.faults.set([{ route: c.route, kind: 'malformed', answer: c.answer, times: 1, probability: 1, status: 500, latencyMs: 0, retryAfterSeconds: 0 }]);
    const e = await calls(hash, g.id)[c.call]().then(() => undefined, (err: unknown) => err);
    expect(e).toBeInstanceOf(OpenRouterError);
    const err = e as OpenRouterError;
    expect(err).toMatchObject({ kind: 'invalidResponse', route: c.route.replace('/api/v1', '') });
    expect(err.transient).toBe(false);
    expect(err.message).toMatch(c.names);
    // the fault fired (the call reached the emulator and was committed), and no key string is in the message
    expect(h.emu.faults.list()).toEqual([]);
    expect(err.message).not.toMatch(/sk-or-v1-/);
  });
});
