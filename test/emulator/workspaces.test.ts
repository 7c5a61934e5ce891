/** Workspace CRUD and workspace budgets, every answer checked against OpenRouter's OpenAPI document by h.api. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { errorOf, startEmulator, type Answer, type Harness } from './harness.ts';
import { validateResponse } from './openapi.ts';

let h: Harness;
beforeAll(async () => {
  h = await startEmulator();
});
afterAll(() => h.emu.stop());
beforeEach(() => h.emu.reset());

type Data = Record<string, unknown>;
const dataOf = (a: { body: unknown }) => (a.body as { data: Data }).data;

const create = async (body: Data = {}) => {
  const a = await h.api('POST', '/workspaces', { key: h.mk, body: { name: 'Research', slug: 'research', ...body } });
  expect(a.status).toBe(201);
  return dataOf(a) as Data & { id: string; slug: string };
};
const ws = (method: string, id: string, body?: unknown) => h.api(method, '/workspaces/{id}', { key: h.mk, params: { id }, body });
/** The refusals use statuses the document declares for the route, not just ones its generic error schemas admit. */
const declared = (method: string, a: Answer) => validateResponse(method, '/workspaces/{id}', a.status, a.body).declared;
const budget = (method: string, id: string, interval: string, body?: unknown) =>
  h.api(method, '/workspaces/{id}/budgets/{interval}', { key: h.mk, params: { id, interval }, body });

describe('workspaces', () => {
  it('creates with its settings, finds by id or slug, lists, updates and deletes', async () => {
    const w = await create({ description: 'ML team', default_text_model: 'openai/gpt-4o-mini' });
    expect(w).toMatchObject({ name: 'Research', slug: 'research', description: 'ML team', default_text_model: 'openai/gpt-4o-mini', include_byok_in_budgets: false, updated_at: null });
    expect(dataOf(await ws('GET', 'research'))).toEqual(w);
    expect((await h.api('GET', '/workspaces', { key: h.mk })).body).toMatchObject({ total_count: 2, data: [{ slug: 'default' }, { id: w.id }] });
    const patched = dataOf(await ws('PATCH', w.id, { name: 'Research & ML', slug: 'ml', description: null }));
    expect(patched).toMatchObject({ id: w.id, name: 'Research & ML', slug: 'ml', description: null, default_text_model: 'openai/gpt-4o-mini', updated_at: expect.any(String) });
    expect((await ws('GET', 'research')).status).toBe(404);
    expect((await ws('DELETE', 'ml')).body).toEqual({ deleted: true });
    for (const method of ['GET', 'PATCH', 'DELETE']) expect((await ws(method, w.id, method === 'PATCH' ? { name: 'x' } : undefined)).status).toBe(404);
  });

  it.each([
    [{ name: '' }, /name/],
    [{ name: 'x'.repeat(101) }, /name/],
    [{ slug: 'Research' }, /slug/],
    [{ slug: '-research' }, /slug/],
    [{ slug: 'a--b' }, /slug/],
    [{ slug: 'a'.repeat(51) }, /slug/],
    [{ slug: 'default' }, /slug default is taken/],
  ])('refuses to create %j with 400', async (body, message) => {
    const a = await h.api('POST', '/workspaces', { key: h.mk, body: { name: 'Research', slug: 'research', ...body } });
    expect(a.status).toBe(400);
    expect(errorOf(a).message).toMatch(message);
  });

  it("refuses a slug another workspace has, but not the workspace's own", async () => {
    const w = await create();
    expect((await ws('PATCH', w.id, { slug: 'default' })).status).toBe(400);
    expect((await ws('PATCH', w.id, { slug: 'research', name: 'Same slug' })).status).toBe(200);
  });

  it('refuses to delete a workspace with an enabled key (400) and deletes it once the key is disabled, with its keys, budgets and guardrails', async () => {
    const w = await create();
    const k = await h.createKey({ workspace_id: w.id });
    const g = dataOf(await h.api('POST', '/guardrails', { key: h.mk, body: { name: 'g', workspace_id: w.id } })) as { id: string };
    await budget('PUT', w.id, 'monthly', { limit_usd: 10 });
    const refused = await ws('DELETE', w.id);
    expect(refused.status).toBe(400);
    expect(errorOf(refused).message).toMatch(/1 active API key/);
    expect(declared('DELETE', refused)).toBe(true);
    await h.api('PATCH', '/keys/{hash}', { key: h.mk, params: { hash: k.hash }, body: { disabled: true } });
    expect((await ws('DELETE', w.id)).body).toEqual({ deleted: true });
    expect((await h.api('GET', '/keys/{hash}', { key: h.mk, params: { hash: k.hash } })).status).toBe(404);
    expect((await h.api('GET', '/guardrails/{id}', { key: h.mk, params: { id: g.id } })).status).toBe(404);
    // a workspace made again under the slug starts without the old one's budgets
    const again = await create();
    expect((await h.api('GET', '/workspaces/{id}/budgets', { key: h.mk, params: { id: again.id } })).body).toEqual({ data: [], include_byok_in_budgets: false });
  });

  it('refuses to delete the default workspace with 403', async () => {
    const a = await ws('DELETE', 'default');
    expect(a.status).toBe(403);
    expect(declared('DELETE', a)).toBe(true);
    expect((await ws('GET', 'default')).status).toBe(200);
  });

  it('needs credentials and a management key', async () => {
    const k = await h.createKey();
    expect((await h.api('GET', '/workspaces')).status).toBe(401);
    expect((await h.api('POST', '/workspaces', { key: k.key, body: { name: 'x', slug: 'x' } })).status).toBe(403);
    expect((await h.api('DELETE', '/workspaces/{id}', { key: k.key, params: { id: 'default' } })).status).toBe(403);
  });
});

describe('workspace budgets', () => {
  it('puts, gets, lists and deletes a budget per window; lifetime has no reset_interval', async () => {
    const w = await create();
    const put = await budget('PUT', 'research', 'monthly', { limit_usd: 100 });
    expect(put.status).toBe(200);
    expect(put.body).toEqual({
      data: { id: expect.any(String), workspace_id: w.id, limit_usd: 100, reset_interval: 'monthly', created_at: expect.any(String), updated_at: expect.any(String) },
      include_byok_in_budgets: false,
    });
    expect(dataOf(await budget('PUT', w.id, 'lifetime', { limit_usd: 1000 }))).toMatchObject({ reset_interval: null, limit_usd: 1000 });
    // replacing keeps the budget's identity
    const again = dataOf(await budget('PUT', w.id, 'monthly', { limit_usd: 120 }));
    expect(again).toMatchObject({ id: dataOf(put)['id'], limit_usd: 120 });
    expect(dataOf(await budget('GET', w.id, 'monthly'))).toEqual(again);
    const list = await h.api('GET', '/workspaces/{id}/budgets', { key: h.mk, params: { id: w.id } });
    expect((list.body as { data: Data[] }).data.map((b) => b['reset_interval'])).toEqual(['monthly', null]);
    expect((await budget('DELETE', w.id, 'monthly')).body).toEqual({ deleted: true });
    expect((await budget('DELETE', w.id, 'monthly')).body).toEqual({ deleted: true });
    expect((await budget('GET', w.id, 'monthly')).status).toBe(404);
  });

  it('sets include_byok_in_budgets for every window of the workspace, and leaves it when omitted', async () => {
    const w = await create();
    await budget('PUT', w.id, 'monthly', { limit_usd: 100 });
    expect((await budget('PUT', w.id, 'daily', { limit_usd: 5, include_byok_in_budgets: true })).body).toMatchObject({ include_byok_in_budgets: true });
    expect((await budget('GET', w.id, 'monthly')).body).toMatchObject({ include_byok_in_budgets: true });
    expect((await budget('PUT', w.id, 'weekly', { limit_usd: 20 })).body).toMatchObject({ include_byok_in_budgets: true });
    expect(dataOf(await ws('GET', w.id))).toMatchObject({ include_byok_in_budgets: true });
  });

  it.each([
    ['weekly equal to monthly', { monthly: 50 }, 'weekly', 50],
    ['daily above weekly', { weekly: 20 }, 'daily', 30],
    ['lifetime not above daily, with no window between', { daily: 40 }, 'lifetime', 40],
    ['monthly lowered to weekly', { weekly: 20, monthly: 60 }, 'monthly', 20],
  ])('refuses %s with 400, keeping the budgets it had', async (_what, existing, interval, limit) => {
    const w = await create();
    for (const [i, l] of Object.entries(existing)) expect((await budget('PUT', w.id, i, { limit_usd: l })).status).toBe(200);
    const a = await budget('PUT', w.id, interval, { limit_usd: limit });
    expect(a.status).toBe(400);
    expect(errorOf(a).message).toMatch(/strictly decrease/);
    const list = await h.api('GET', '/workspaces/{id}/budgets', { key: h.mk, params: { id: w.id } });
    expect((list.body as { data: Data[] }).data.map((b) => b['limit_usd'])).toEqual(Object.values(existing));
  });

  it('accepts limits that strictly decrease as the window narrows', async () => {
    const w = await create();
    for (const [i, l] of [['daily', 1], ['lifetime', 100], ['weekly', 5], ['monthly', 20]] as const) expect((await budget('PUT', w.id, i, { limit_usd: l })).status).toBe(200);
  });

  it.each([
    ['a zero limit', 'daily', { limit_usd: 0 }, /limit_usd/],
    ['a negative limit', 'daily', { limit_usd: -1 }, /limit_usd/],
    ['no limit', 'daily', {}, /limit_usd/],
    ['an interval OpenRouter does not know', 'hourly', { limit_usd: 1 }, /interval/],
  ])('refuses %s with 400', async (_what, interval, body, message) => {
    const w = await create();
    const a = await budget('PUT', w.id, interval, body);
    expect(a.status).toBe(400);
    expect(errorOf(a).message).toMatch(message);
  });

  it('answers 404 for a workspace that does not exist', async () => {
    expect((await h.api('GET', '/workspaces/{id}/budgets', { key: h.mk, params: { id: 'nowhere' } })).status).toBe(404);
    expect((await budget('PUT', 'nowhere', 'daily', { limit_usd: 1 })).status).toBe(404);
    expect((await budget('DELETE', 'nowhere', 'daily')).status).toBe(404);
  });
});
