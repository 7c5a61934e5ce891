import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { errorOf, startEmulator, type Harness } from './harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await startEmulator();
});
afterAll(() => h.emu.stop());
beforeEach(() => h.emu.reset());

const chat = (key: string, model = 'openai/gpt-4o-mini') =>
  h.raw('POST', '/api/v1/chat/completions', { key, body: { model, messages: [{ role: 'user', content: 'hello there' }], max_tokens: 100 } });

describe('GET /key', () => {
  it('describes a management key and a member key', async () => {
    const m = await h.api('GET', '/key', { key: h.mk });
    expect((m.body as { data: unknown }).data).toMatchObject({ is_management_key: true, is_provisioning_key: true, limit: null });
    const member = await h.createKey({ limit: 3 });
    const a = await h.api('GET', '/key', { key: member.key });
    expect((a.body as { data: unknown }).data).toMatchObject({
      is_management_key: false, limit: 3, limit_remaining: 3, label: member.data['label'],
      allowed_data_regions: ['global'], organization_id: null, workspace_id: member.data['workspace_id'],
      rate_limit: { requests: -1 }, free_model_daily_requests: { limit: expect.any(Number) },
    });
  });

  it('answers 401 without credentials and for an unknown, disabled or deleted key', async () => {
    expect(errorOf(await h.api('GET', '/key')).message).toBe('Missing Authentication header');
    expect((await h.api('GET', '/key', { key: 'sk-or-v1-nope' })).status).toBe(401);
    const k = await h.createKey();
    await h.api('PATCH', '/keys/{hash}', { key: h.mk, params: { hash: k.hash }, body: { disabled: true } });
    expect((await h.api('GET', '/key', { key: k.key })).status).toBe(401);
    await h.api('DELETE', '/keys/{hash}', { key: h.mk, params: { hash: k.hash } });
    expect(errorOf(await h.api('GET', '/key', { key: k.key }))).toEqual({ code: 401, message: 'User not found.' });
  });
});

describe('GET /credits', () => {
  it('reports credits and usage to a management key only', async () => {
    const k = await h.createKey();
    expect((await chat(k.key)).status).toBe(200);
    const a = await h.api('GET', '/credits', { key: h.mk });
    expect(a.status).toBe(200);
    const d = (a.body as { data: { total_credits: number; total_usage: number } }).data;
    expect(d.total_credits).toBe(100);
    expect(d.total_usage).toBeGreaterThan(0);
    expect((await h.api('GET', '/credits', { key: k.key })).status).toBe(403);
    expect((await h.api('GET', '/credits')).status).toBe(401);
  });

  it('deducts the 5% fee on BYOK inference from credits, not the BYOK spend itself', async () => {
    const k = await h.createKey();
    const credits = async () => ((await h.api('GET', '/credits', { key: h.mk })).body as { data: { total_usage: number } }).data.total_usage;
    const before = await credits();
    await h.control('POST', `/keys/${k.hash}/spend`, { usd: 10, byok: true });
    expect(await credits()).toBeCloseTo(before + 0.5, 9);
    await h.control('POST', `/keys/${k.hash}/spend`, { usd: 2 });
    expect(await credits()).toBeCloseTo(before + 2.5, 9);
  });
});

describe('GET /activity', () => {
  it('reports completed UTC days, filtered by date, key and workspace', async () => {
    h.emu.clock.set(Date.parse('2026-03-10T12:00:00Z'));
    const a = await h.createKey();
    const b = await h.createKey();
    await chat(a.key);
    await chat(a.key);
    await chat(b.key, 'anthropic/claude-3.5-sonnet');
    const today = await h.api('GET', '/activity', { key: h.mk });
    expect((today.body as { data: unknown[] }).data).toEqual([]); // today is not complete yet
    h.emu.clock.set(Date.parse('2026-03-11T01:00:00Z'));
    const all = await h.api('GET', '/activity', { key: h.mk });
    const rows = (all.body as { data: { model: string; requests: number; date: string }[] }).data;
    expect(rows.map((r) => [r.date, r.model, r.requests]).toSorted((x, y) => String(x).localeCompare(String(y)))).toEqual([
      ['2026-03-10', 'anthropic/claude-3.5-sonnet', 1],
      ['2026-03-10', 'openai/gpt-4o-mini', 2],
    ]);
    const one = await h.api('GET', '/activity', { key: h.mk, query: { api_key_hash: b.hash, date: '2026-03-10', group_by: 'workspace' } });
    expect((one.body as { data: unknown[] }).data).toEqual([expect.objectContaining({ model: 'anthropic/claude-3.5-sonnet', workspace_id: expect.any(String) })]);
  });

  it.each([
    [{ date: '10-03-2026' }, 400],
    [{ date: '2020-01-01' }, 400],
    [{ group_by: 'model' }, 400],
    [{ user_id: 'user_unknown' }, 404],
  ])('rejects %j', async (query, status) => {
    expect((await h.api('GET', '/activity', { key: h.mk, query })).status).toBe(status);
  });

  it('needs a management key', async () => {
    const k = await h.createKey();
    expect((await h.api('GET', '/activity', { key: k.key })).status).toBe(403);
  });
});

describe('workspaces', () => {
  it('has the default workspace, by id and by slug', async () => {
    const list = await h.api('GET', '/workspaces', { key: h.mk });
    const ws = (list.body as { data: { id: string; slug: string }[]; total_count: number });
    expect(ws.total_count).toBe(1);
    expect(ws.data[0]?.slug).toBe('default');
    const byId = await h.api('GET', '/workspaces/{id}', { key: h.mk, params: { id: ws.data[0]?.id ?? '' } });
    const bySlug = await h.api('GET', '/workspaces/{id}', { key: h.mk, params: { id: 'default' } });
    expect(byId.body).toEqual(bySlug.body);
    expect((await h.api('GET', '/workspaces/{id}', { key: h.mk, params: { id: 'nope' } })).status).toBe(404);
  });
});
