/** The guardrail port (openrouter/guardrails.ts) against the emulator: canonical forms, replace semantics, paging. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { OpenRouterGuardrails } from '../../src/openrouter/guardrails.ts';
import { startEmulator, type Harness } from './harness.ts';

let h: Harness;
let port: OpenRouterGuardrails;
beforeAll(async () => {
  h = await startEmulator();
  port = new OpenRouterGuardrails(h.client());
});
afterAll(() => h.stop());
beforeEach(() => h.emu.reset());

const all = async <T>(items: AsyncIterable<T>) => {
  const out: T[] = [];
  for await (const x of items) out.push(x);
  return out;
};

describe('OpenRouterGuardrails', () => {
  it('creates with the rules, reads them back in canonical form, and replaces every list on update', async () => {
    const g = await port.create('teamkeys/c/basic', 'managed', undefined, { allowedModels: ['openai/gpt-4o-mini'], deniedProviders: ['deepinfra'], zeroDataRetention: true });
    expect(g).toMatchObject({ name: 'teamkeys/c/basic', allowedModels: ['openai/gpt-4o-mini-2024-07-18'], deniedProviders: ['deepinfra'], zeroDataRetention: true });
    expect(g.deniedModels).toBeUndefined();
    const u = await port.update(g.id, { allowedModels: ['google/gemini-2.5-flash'], zeroDataRetention: false });
    // the provider list absent from the update is cleared: full-set replace
    expect(u).toMatchObject({ allowedModels: ['google/gemini-2.5-flash'], zeroDataRetention: false });
    expect(u.deniedProviders).toBeUndefined();
    expect(await port.get(g.id)).toEqual(u);
    await port.delete(g.id);
    await port.delete(g.id); // already gone counts as deleted
    expect(await all(port.list(undefined))).toEqual([]);
  });

  it('lists every page, and assigns and unassigns in batches of 100', async () => {
    for (let i = 0; i < 105; i++) await port.create(`g${i}`, '', undefined, { zeroDataRetention: true });
    expect(await all(port.list(undefined))).toHaveLength(105);
    const [g] = await all(port.list(undefined));
    const hashes: string[] = [];
    for (let i = 0; i < 130; i++) hashes.push((await h.createKey({ name: `k${i}` })).hash);
    expect(await port.assign(g!.id, hashes)).toBe(130);
    expect(await port.assign(g!.id, hashes.slice(0, 10))).toBe(0);
    expect((await all(port.assignedKeys(g!.id))).toSorted()).toEqual(hashes.toSorted());
    expect(await port.unassign(g!.id, hashes.slice(0, 120))).toBe(120);
    expect(await all(port.assignedKeys(g!.id))).toHaveLength(10);
  });
});
