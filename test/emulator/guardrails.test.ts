import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { errorOf, startEmulator, type Harness } from './harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await startEmulator();
});
afterAll(() => h.emu.stop());
beforeEach(() => h.emu.reset());

const create = async (body: Record<string, unknown>) => {
  const a = await h.api('POST', '/guardrails', { key: h.mk, body });
  expect(a.status).toBe(201);
  return (a.body as { data: { id: string } & Record<string, unknown> }).data;
};

describe('guardrails', () => {
  it('creates with canonical model slugs, lists, gets, patches with replace semantics and deletes', async () => {
    const g = await create({ name: 'pro models', allowed_models: ['openai/gpt-4o-mini'], limit_usd: 50, reset_interval: 'monthly' });
    expect(g).toMatchObject({ name: 'pro models', allowed_models: ['openai/gpt-4o-mini-2024-07-18'], limit_usd: 50, include_byok_in_budgets: false, updated_at: null });
    const list = await h.api('GET', '/guardrails', { key: h.mk, query: { limit: '10' } });
    expect(list.body).toMatchObject({ total_count: 1, data: [{ id: g.id }] });
    const p = await h.api('PATCH', '/guardrails/{id}', { key: h.mk, params: { id: g.id }, body: { allowed_models: ['anthropic/claude-3.5-sonnet'] } });
    expect((p.body as { data: unknown }).data).toMatchObject({ allowed_models: ['anthropic/claude-3.5-sonnet-20241022'], limit_usd: 50, updated_at: expect.any(String) });
    expect((await h.api('GET', '/guardrails/{id}', { key: h.mk, params: { id: g.id } })).status).toBe(200);
    expect((await h.api('DELETE', '/guardrails/{id}', { key: h.mk, params: { id: g.id } })).body).toEqual({ deleted: true });
    for (const method of ['GET', 'PATCH', 'DELETE']) {
      const a = await h.api(method, '/guardrails/{id}', { key: h.mk, params: { id: g.id }, body: method === 'PATCH' ? { name: 'x' } : undefined });
      expect(a.status).toBe(404);
    }
  });

  it.each([
    [{}, /name/],
    [{ name: '' }, /name/],
    [{ name: 'x'.repeat(201) }, /name/],
    [{ name: 'x', allowed_models: [] }, /allowed_models/],
    [{ name: 'x', allowed_models: ['nobody/none'] }, /unknown model/],
    [{ name: 'x', reset_interval: 'hourly' }, /reset_interval/],
  ])('rejects %j with 400', async (body, message) => {
    const a = await h.api('POST', '/guardrails', { key: h.mk, body });
    expect(a.status).toBe(400);
    expect(errorOf(a).message).toMatch(message);
  });

  it('assigns keys (one guardrail per key, re-assigning replaces), lists and removes assignments', async () => {
    const g1 = await create({ name: 'g1' });
    const g2 = await create({ name: 'g2' });
    const k = await h.createKey({ name: 'alice' });
    const assign = (id: string) => h.api('POST', '/guardrails/{id}/assignments/keys', { key: h.mk, params: { id }, body: { key_hashes: [k.hash] } });
    expect((await assign(g1.id)).body).toEqual({ assigned_count: 1 });
    expect((await assign(g1.id)).body).toEqual({ assigned_count: 0 });
    expect((await assign(g2.id)).body).toEqual({ assigned_count: 1 });
    const onG1 = await h.api('GET', '/guardrails/{id}/assignments/keys', { key: h.mk, params: { id: g1.id } });
    expect(onG1.body).toMatchObject({ total_count: 0 });
    const all = await h.api('GET', '/guardrails/assignments/keys', { key: h.mk });
    expect(all.body).toMatchObject({ total_count: 1, data: [{ key_hash: k.hash, key_name: 'alice', key_label: k.data['label'], guardrail_id: g2.id }] });
    const rm = await h.api('POST', '/guardrails/{id}/assignments/keys/remove', { key: h.mk, params: { id: g2.id }, body: { key_hashes: [k.hash] } });
    expect(rm.body).toEqual({ unassigned_count: 1 });
    expect((await h.api('POST', '/guardrails/{id}/assignments/keys', { key: h.mk, params: { id: g1.id }, body: { key_hashes: [] } })).status).toBe(400);
    expect((await h.api('POST', '/guardrails/{id}/assignments/keys', { key: h.mk, params: { id: g1.id }, body: { key_hashes: ['0'.repeat(64)] } })).status).toBe(404);
    expect((await h.api('GET', '/guardrails/{id}/assignments/keys', { key: h.mk, params: { id: '00000000-0000-4000-8000-000000000000' } })).status).toBe(404);
  });

  it('assigns members, lists and removes them', async () => {
    const g = await create({ name: 'g' });
    const add = await h.api('POST', '/guardrails/{id}/assignments/members', { key: h.mk, params: { id: g.id }, body: { member_user_ids: ['user_a', 'user_b'] } });
    expect(add.body).toEqual({ assigned_count: 2 });
    const list = await h.api('GET', '/guardrails/{id}/assignments/members', { key: h.mk, params: { id: g.id } });
    expect(list.body).toMatchObject({ total_count: 2 });
    expect((await h.api('GET', '/guardrails/assignments/members', { key: h.mk })).body).toMatchObject({ total_count: 2 });
    const rm = await h.api('POST', '/guardrails/{id}/assignments/members/remove', { key: h.mk, params: { id: g.id }, body: { member_user_ids: ['user_a'] } });
    expect(rm.body).toEqual({ unassigned_count: 1 });
  });

  it('files guardrails in the workspace given, and lists each workspace apart', async () => {
    const ws = await h.api('POST', '/workspaces', { key: h.mk, body: { name: 'Research', slug: 'research' } });
    expect(ws.status).toBe(201);
    const wsId = (ws.body as { data: { id: string } }).data.id;
    expect((await h.api('POST', '/workspaces', { key: h.mk, body: { name: 'Again', slug: 'research' } })).status).toBe(400);
    expect((await h.api('POST', '/workspaces', { key: h.mk, body: { name: 'Bad', slug: 'Not A Slug' } })).status).toBe(400);
    const inWs = await create({ name: 'in research', workspace_id: wsId });
    const inDefault = await create({ name: 'in default' });
    expect(inWs['workspace_id']).toBe(wsId);
    const listed = async (q: Record<string, string>) => ((await h.api('GET', '/guardrails', { key: h.mk, query: q })).body as { data: { id: string }[] }).data.map((g) => g.id);
    expect(await listed({ workspace_id: wsId })).toEqual([inWs.id]);
    expect(await listed({})).toEqual([inDefault.id]);
  });

  it('needs credentials and a management key', async () => {
    const k = await h.createKey();
    expect((await h.api('GET', '/guardrails')).status).toBe(401);
    expect((await h.api('POST', '/guardrails', { key: k.key, body: { name: 'x' } })).status).toBe(403);
  });
});
