/** A workspace budget at inference: the pool all the workspace's keys draw on, checked before guardrails and key limits. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { errorOf, startEmulator, type Harness } from './harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await startEmulator();
});
afterAll(() => h.emu.stop());
let wsId: string;
beforeEach(async () => {
  h.emu.reset();
  // midday of a Wednesday mid-month, so that the day, week and month of a spend can be left one at a time
  h.emu.clock.set(Date.parse('2027-03-10T12:00:00Z'));
  const w = await h.api('POST', '/workspaces', { key: h.mk, body: { name: 'Research', slug: 'research' } });
  wsId = (w.body as { data: { id: string } }).data.id;
});

const chat = (key: string, model = 'openai/gpt-4o-mini') =>
  h.raw('POST', '/api/v1/chat/completions', { key, body: { model, messages: [{ role: 'user', content: 'hello' }], max_tokens: 10 } });
const spend = (hash: string, usd: number, byok = false) => h.control('POST', `/keys/${hash}/spend`, { usd, byok });
const setBudget = async (interval: string, limit: number, includeByok?: boolean) => {
  const a = await h.api('PUT', '/workspaces/{id}/budgets/{interval}', { key: h.mk, params: { id: wsId, interval }, body: { limit_usd: limit, include_byok_in_budgets: includeByok } });
  expect(a.status).toBe(200);
};
const dropBudget = (interval: string) => h.api('DELETE', '/workspaces/{id}/budgets/{interval}', { key: h.mk, params: { id: wsId, interval } });
const key = (body: Record<string, unknown> = {}) => h.createKey({ workspace_id: wsId, limit: 10, ...body });
/** The window a refusal names, or the status when it is not a workspace budget's. */
const verdict = async (k: string) => {
  const a = await chat(k);
  const message = a.status === 403 ? errorOf(a).message : '';
  if (message.startsWith('Workspace budget exceeded')) return /\((\w+) limit\)/.exec(message)?.[1];
  return a.status;
};

describe('workspace budgets at inference', () => {
  it("refuses every key of the workspace with 403 once their spend reaches the budget, though each key's own limit has room", async () => {
    await setBudget('monthly', 1);
    const a = await key();
    const b = await key();
    const elsewhere = await h.createKey({ limit: 10 });
    await spend(a.hash, 0.6);
    await spend(elsewhere.hash, 5); // another workspace's spend is not this one's
    expect(await verdict(b.key)).toBe(200);
    await spend(b.hash, 0.4);
    const refused = await chat(b.key);
    expect(refused.status).toBe(403);
    expect(errorOf(refused).message).toMatch(/^Workspace budget exceeded \(monthly limit\) for workspace research\./);
    const own = await h.api('GET', '/keys/{hash}', { key: h.mk, params: { hash: b.hash } });
    expect((own.body as { data: { limit_remaining: number } }).data.limit_remaining).toBeGreaterThan(9);
    // nor is this one's budget another workspace's
    expect(await verdict(elsewhere.key)).toBe(200);
    // raising the budget, or removing it, serves the workspace again
    await setBudget('monthly', 2);
    expect(await verdict(b.key)).toBe(200);
    await setBudget('monthly', 1);
    expect(await verdict(a.key)).toBe('monthly');
    await dropBudget('monthly');
    expect(await verdict(a.key)).toBe(200);
  });

  it('counts what a deleted key spent', async () => {
    await setBudget('lifetime', 1);
    const gone = await key();
    await spend(gone.hash, 1);
    await h.api('DELETE', '/keys/{hash}', { key: h.mk, params: { hash: gone.hash } });
    expect(await verdict((await key()).key)).toBe('lifetime');
  });

  it("is checked before the key's guardrail and before the key's own limit", async () => {
    await setBudget('daily', 1);
    const capped = await key({ limit: 1 });
    const guarded = await key();
    const g = await h.api('POST', '/guardrails', { key: h.mk, body: { name: 'g', workspace_id: wsId, allowed_models: ['anthropic/claude-3.5-sonnet'] } });
    const id = (g.body as { data: { id: string } }).data.id;
    await h.api('POST', '/guardrails/{id}/assignments/keys', { key: h.mk, params: { id }, body: { key_hashes: [guarded.hash] } });
    expect(await verdict(guarded.key)).toBe(404); // the guardrail's refusal, while the budget has room
    await spend(capped.hash, 1); // spends the key's limit and the workspace's budget at once
    expect(await verdict(capped.key)).toBe('daily');
    expect(await verdict(guarded.key)).toBe('daily');
  });

  it('names the narrowest exhausted window, and each window resets on its own UTC boundary', async () => {
    await setBudget('daily', 1);
    await setBudget('weekly', 2);
    await setBudget('monthly', 3);
    await setBudget('lifetime', 4);
    const k = await key();
    await spend(k.hash, 5);
    expect(await verdict(k.key)).toBe('daily');
    h.emu.clock.set(Date.parse('2027-03-11T00:00:00Z')); // Thursday: a new day, the same week
    expect(await verdict(k.key)).toBe('weekly');
    h.emu.clock.set(Date.parse('2027-03-15T00:00:00Z')); // Monday: a new week, the same month
    expect(await verdict(k.key)).toBe('monthly');
    h.emu.clock.set(Date.parse('2027-04-01T00:00:00Z')); // a new month: only the lifetime budget is spent
    expect(await verdict(k.key)).toBe('lifetime');
    await dropBudget('lifetime');
    expect(await verdict(k.key)).toBe(200);
  });

  it('counts BYOK spend only while include_byok_in_budgets is set', async () => {
    await setBudget('monthly', 1);
    const k = await key();
    await spend(k.hash, 2, true);
    expect(await verdict(k.key)).toBe(200);
    await setBudget('weekly', 0.5, true); // the flag is workspace-wide: it turns on for the monthly budget too
    expect(await verdict(k.key)).toBe('weekly');
    await setBudget('weekly', 0.5, false);
    expect(await verdict(k.key)).toBe(200);
  });

  it('shows each workspace its spend per window in the test controls', async () => {
    await setBudget('monthly', 10);
    await spend((await key()).hash, 1.5);
    const state = (await h.control('GET', '/state')) as { workspaces: Array<{ slug: string; budgets: unknown; spend: unknown }> };
    expect(state.workspaces.find((w) => w.slug === 'research')).toMatchObject({ budgets: { monthly: 10 }, spend: { daily: 1.5, weekly: 1.5, monthly: 1.5, lifetime: 1.5 } });
  });
});
