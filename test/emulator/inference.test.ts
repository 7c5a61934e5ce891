import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { errorOf, startEmulator, type Harness } from './harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await startEmulator();
});
afterAll(() => h.emu.stop());
beforeEach(() => {
  h.emu.reset();
  // midday of a Wednesday mid-month: a spend and the read of its daily, weekly and monthly windows fall in the same
  // windows, whatever the date and time the test runs at
  h.emu.clock.set(Date.parse('2027-03-10T12:00:00Z'));
});

const chat = (key: string | undefined, model = 'openai/gpt-4o-mini') =>
  h.raw('POST', '/api/v1/chat/completions', { key, body: { model, messages: [{ role: 'user', content: 'x'.repeat(400) }], max_tokens: 100 } });
const keyData = async (hash: string) => (await h.api('GET', '/keys/{hash}', { key: h.mk, params: { hash } })).body as { data: Record<string, number | null> };
const spend = (hash: string, usd: number, byok = false) => h.raw('POST', `/_emulator/keys/${hash}/spend`, { body: { usd, byok } });

describe('chat completions', () => {
  it('charges a deterministic cost and updates usage, windows, limit_remaining and the answer', async () => {
    const k = await h.createKey({ limit: 1 });
    const a = await chat(k.key);
    expect(a.status).toBe(200);
    const usage = (a.body as { usage: { cost: number; prompt_tokens: number; completion_tokens: number } }).usage;
    // 100 prompt tokens at $0.15/M + 100 completion tokens at $0.60/M
    expect(usage).toMatchObject({ prompt_tokens: 100, completion_tokens: 100, cost: 0.000075 });
    const d = (await keyData(k.hash)).data;
    expect(d).toMatchObject({ usage: 0.000075, usage_daily: 0.000075, usage_weekly: 0.000075, usage_monthly: 0.000075, limit_remaining: 0.999925 });
  });

  it('refuses unknown, deleted, disabled and expired keys with 401, and management keys', async () => {
    expect((await chat(undefined)).status).toBe(401);
    expect(errorOf(await chat('sk-or-v1-unknown'))).toEqual({ code: 401, message: 'User not found.' });
    const disabled = await h.createKey();
    await h.api('PATCH', '/keys/{hash}', { key: h.mk, params: { hash: disabled.hash }, body: { disabled: true } });
    expect((await chat(disabled.key)).status).toBe(401);
    const deleted = await h.createKey();
    await h.api('DELETE', '/keys/{hash}', { key: h.mk, params: { hash: deleted.hash } });
    expect((await chat(deleted.key)).status).toBe(401);
    const expiring = await h.createKey({ expires_at: new Date(h.emu.clock.now() + 60_000).toISOString() });
    expect((await chat(expiring.key)).status).toBe(200);
    h.emu.clock.advance(61_000);
    expect((await chat(expiring.key)).status).toBe(401);
    expect((await chat(h.mk)).status).toBe(403);
  });

  it.each(['daily', 'weekly', 'monthly', null])('answers 403 Key limit exceeded (%s) once the window is spent', async (reset) => {
    const k = await h.createKey({ limit: 1, limit_reset: reset });
    await spend(k.hash, 0.99995);
    expect((await chat(k.key)).status).toBe(200); // still $0.00005 left: this request may overshoot by its own cost
    const refused = await chat(k.key);
    expect(refused.status).toBe(403);
    expect(errorOf(refused).message).toMatch(new RegExp(`^Key limit exceeded \\(${reset ?? 'total'} limit\\)`));
    expect((await keyData(k.hash)).data['limit_remaining']).toBe(0);
  });

  it('counts BYOK spend against the limit only when include_byok_in_limit is set', async () => {
    const without = await h.createKey({ limit: 1 });
    const with_ = await h.createKey({ limit: 1, include_byok_in_limit: true });
    await spend(without.hash, 2, true);
    await spend(with_.hash, 2, true);
    expect((await chat(without.key)).status).toBe(200);
    expect((await chat(with_.key)).status).toBe(403);
    expect((await keyData(with_.hash)).data).toMatchObject({ byok_usage: 2, byok_usage_daily: 2, usage: 0 });
  });

  it('refuses a model outside the key guardrail allowlist and an unknown model', async () => {
    const k = await h.createKey();
    const g = await h.api('POST', '/guardrails', { key: h.mk, body: { name: 'g', allowed_models: ['openai/gpt-4o-mini'] } });
    const id = (g.body as { data: { id: string } }).data.id;
    await h.api('POST', '/guardrails/{id}/assignments/keys', { key: h.mk, params: { id }, body: { key_hashes: [k.hash] } });
    expect((await chat(k.key, 'openai/gpt-4o-mini')).status).toBe(200);
    const refused = await chat(k.key, 'anthropic/claude-3.5-sonnet');
    expect(refused.status).toBe(404);
    expect(errorOf(refused).message).toMatch(/guardrail restrictions/);
    expect((await chat(k.key, 'nobody/none')).status).toBe(400);
  });

  const guarded = async (rules: Record<string, unknown>) => {
    const k = await h.createKey();
    const g = await h.api('POST', '/guardrails', { key: h.mk, body: { name: 'g', ...rules } });
    expect(g.status).toBe(201);
    const id = (g.body as { data: { id: string } }).data.id;
    await h.api('POST', '/guardrails/{id}/assignments/keys', { key: h.mk, params: { id }, body: { key_hashes: [k.hash] } });
    return k;
  };
  const verdicts = async (key: string) => {
    const out: Record<string, number> = {};
    for (const m of ['openai/gpt-4o-mini', 'anthropic/claude-3.5-sonnet', 'google/gemini-2.5-flash', 'meta-llama/llama-3.3-70b-instruct']) out[m] = (await chat(key, m)).status;
    return out;
  };

  it.each([
    ['a model blocklist', { ignored_models: ['openai/gpt-4o-mini'] }, { 'openai/gpt-4o-mini': 404, 'anthropic/claude-3.5-sonnet': 200, 'google/gemini-2.5-flash': 200, 'meta-llama/llama-3.3-70b-instruct': 200 }],
    ['a provider allowlist', { allowed_providers: ['anthropic', 'deepinfra'] }, { 'openai/gpt-4o-mini': 404, 'anthropic/claude-3.5-sonnet': 200, 'google/gemini-2.5-flash': 404, 'meta-llama/llama-3.3-70b-instruct': 200 }],
    ['a provider blocklist', { ignored_providers: ['openai'] }, { 'openai/gpt-4o-mini': 404, 'anthropic/claude-3.5-sonnet': 200, 'google/gemini-2.5-flash': 200, 'meta-llama/llama-3.3-70b-instruct': 200 }],
    ['zero data retention for every group', { enforce_zdr_anthropic: true, enforce_zdr_openai: true, enforce_zdr_google: true, enforce_zdr_xai: true, enforce_zdr_other: true }, { 'openai/gpt-4o-mini': 404, 'anthropic/claude-3.5-sonnet': 200, 'google/gemini-2.5-flash': 200, 'meta-llama/llama-3.3-70b-instruct': 404 }],
    ['zero data retention for OpenAI models only', { enforce_zdr_openai: true }, { 'openai/gpt-4o-mini': 404, 'anthropic/claude-3.5-sonnet': 200, 'google/gemini-2.5-flash': 200, 'meta-llama/llama-3.3-70b-instruct': 200 }],
  ])('enforces %s', async (_what, rules, expected) => {
    const k = await guarded(rules);
    expect(await verdicts(k.key)).toEqual(expected);
  });

  it("intersects the key's allowlist with its workspace's default guardrail", async () => {
    const k = await guarded({ allowed_models: ['openai/gpt-4o-mini', 'anthropic/claude-3.5-sonnet'] });
    const set = await h.raw('PUT', '/_emulator/workspaces/default/default-guardrail', { body: { allowed_models: ['anthropic/claude-3.5-sonnet-20241022', 'google/gemini-2.5-flash'] } });
    expect(set.status).toBe(200);
    expect(await verdicts(k.key)).toEqual({ 'openai/gpt-4o-mini': 404, 'anthropic/claude-3.5-sonnet': 200, 'google/gemini-2.5-flash': 404, 'meta-llama/llama-3.3-70b-instruct': 404 });
    // a key with no guardrail of its own gets the workspace default alone
    const plain = await h.createKey();
    expect(await verdicts(plain.key)).toEqual({ 'openai/gpt-4o-mini': 404, 'anthropic/claude-3.5-sonnet': 200, 'google/gemini-2.5-flash': 200, 'meta-llama/llama-3.3-70b-instruct': 404 });
  });

  it('serves a free model at no cost', async () => {
    const k = await h.createKey({ limit: 1 });
    const a = await chat(k.key, 'meta-llama/llama-3.3-70b-instruct:free');
    expect(a.status).toBe(200);
    expect((a.body as { usage: { cost: number } }).usage.cost).toBe(0);
  });
});

describe('usage windows (UTC; weeks start on Monday)', () => {
  it('resets daily at 00:00 UTC, weekly on Monday and monthly on the 1st', async () => {
    h.emu.clock.set(Date.parse('2026-03-28T23:00:00Z')); // Saturday
    const k = await h.createKey({ limit: 10, limit_reset: 'weekly' });
    await spend(k.hash, 1);
    h.emu.clock.set(Date.parse('2026-03-29T10:00:00Z')); // Sunday
    await spend(k.hash, 2);
    expect((await keyData(k.hash)).data).toMatchObject({ usage_daily: 2, usage_weekly: 3, usage_monthly: 3, usage: 3, limit_remaining: 7 });
    h.emu.clock.set(Date.parse('2026-03-30T00:00:00Z')); // Monday: new day and week
    expect((await keyData(k.hash)).data).toMatchObject({ usage_daily: 0, usage_weekly: 0, usage_monthly: 3, limit_remaining: 10 });
    h.emu.clock.set(Date.parse('2026-04-01T00:00:00Z')); // Wednesday the 1st: new month, same week
    await spend(k.hash, 4);
    expect((await keyData(k.hash)).data).toMatchObject({ usage_daily: 4, usage_weekly: 4, usage_monthly: 4, usage: 7 });
  });
});
