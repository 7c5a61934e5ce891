import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { errorOf, startEmulator, type Harness } from './harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await startEmulator();
});
afterAll(() => h.emu.stop());
beforeEach(() => h.emu.reset());

describe('POST /keys', () => {
  it('creates a key and shows its string once, top level, with a masked label', async () => {
    const a = await h.api('POST', '/keys', { key: h.mk, body: { name: 'alice', limit: 5, limit_reset: 'monthly', include_byok_in_limit: true, expires_at: '2099-12-31T23:59:59Z' } });
    expect(a.status).toBe(201);
    const { data, key } = a.body as { data: Record<string, unknown>; key: string };
    expect(key).toMatch(/^sk-or-v1-[0-9a-f]{64}$/);
    expect(data['hash']).toMatch(/^[0-9a-f]{64}$/);
    expect(data['label']).toBe(`sk-or-v1-${key.slice(9, 12)}...${key.slice(-3)}`);
    expect(data).toMatchObject({ name: 'alice', limit: 5, limit_remaining: 5, limit_reset: 'monthly', include_byok_in_limit: true, usage: 0, updated_at: null, expires_at: '2099-12-31T23:59:59Z', disabled: false, external_user: null });
    expect(JSON.stringify(data)).not.toContain(key);
    const got = await h.api('GET', '/keys/{hash}', { key: h.mk, params: { hash: String(data['hash']) } });
    expect(JSON.stringify(got.body)).not.toContain(key);
  });

  it('records an external user and never returns the partner key', async () => {
    const partner = 'p'.repeat(40);
    const a = await h.api('POST', '/keys', { key: h.mk, body: { name: 'x', external: { user: 'cust-1', api_key: partner } } });
    expect((a.body as { data: { external_user: string } }).data.external_user).toBe('cust-1');
    expect(JSON.stringify(a.body)).not.toContain(partner);
  });

  it.each([
    ['malformed JSON', { rawBody: '{"name":' }, 400, /Malformed JSON/],
    ['an empty body', { rawBody: '' }, 400, /JSON object/],
    ['a missing name', { body: { limit: 1 } }, 400, /name/],
    ['an empty name', { body: { name: '' } }, 400, /name: must not be empty/],
    ['a non-UTC expires_at', { body: { name: 'x', expires_at: '2099-01-01T00:00:00+02:00' } }, 400, /expires_at/],
    ['an expires_at without seconds', { body: { name: 'x', expires_at: '2099-01-01T00:00Z' } }, 400, /expires_at/],
    ['an expires_at in the past', { body: { name: 'x', expires_at: '2001-01-01T00:00:00Z' } }, 400, /future/],
    ['a negative limit', { body: { name: 'x', limit: -1 } }, 400, /limit/],
    ['an unknown limit_reset', { body: { name: 'x', limit_reset: 'hourly' } }, 400, /limit_reset/],
    ['an unknown workspace', { body: { name: 'x', workspace_id: '11111111-2222-4333-8444-555555555555' } }, 400, /Workspace/],
  ])('rejects %s with 400', async (_name, opts, status, message) => {
    const a = await h.api('POST', '/keys', { key: h.mk, ...opts });
    expect(a.status).toBe(status);
    expect(errorOf(a)).toMatchObject({ code: status, message: expect.stringMatching(message) });
  });

  it('needs credentials (401) and a management key (403)', async () => {
    const none = await h.api('POST', '/keys', { body: { name: 'x' } });
    expect(none.status).toBe(401);
    expect(errorOf(none).message).toBe('Missing Authentication header');
    const bogus = await h.api('POST', '/keys', { key: `sk-or-v1-${'0'.repeat(64)}`, body: { name: 'x' } });
    expect(bogus.status).toBe(401);
    const member = await h.createKey();
    const forbidden = await h.api('POST', '/keys', { key: member.key, body: { name: 'x' } });
    expect(forbidden.status).toBe(403);
    expect(errorOf(forbidden).message).toBe('Only management keys can perform this operation');
  });
});

describe('GET /keys', () => {
  it('pages 100 at a time, newest first, hides disabled keys unless asked', async () => {
    for (let i = 0; i < 205; i++) h.emu.store.createKey({ name: `k${i}` });
    const names = async (offset: number, extra: Record<string, string> = {}) => {
      const a = await h.api('GET', '/keys', { key: h.mk, query: { offset: String(offset), ...extra } });
      expect(a.status).toBe(200);
      expect(a.body).not.toHaveProperty('total_count');
      return (a.body as { data: { name: string }[] }).data.map((k) => k.name);
    };
    const first = await names(0);
    expect(first).toHaveLength(100);
    expect(first[0]).toBe('k204');
    expect(await names(100)).toHaveLength(100);
    expect(await names(200)).toEqual(['k4', 'k3', 'k2', 'k1', 'k0']);
    const hash = h.emu.store.listKeys({ includeDisabled: true }).find((k) => k.name === 'k0')!.hash;
    await h.api('PATCH', '/keys/{hash}', { key: h.mk, params: { hash }, body: { disabled: true } });
    expect(await names(200)).toEqual(['k4', 'k3', 'k2', 'k1']);
    expect(await names(200, { include_disabled: 'true' })).toEqual(['k4', 'k3', 'k2', 'k1', 'k0']);
    expect(await names(0, { workspace_id: 'default' })).toHaveLength(100);
  });

  it('serves a later page as if keys were deleted since the page before (listShift): a listing misses a key', async () => {
    for (let i = 0; i < 150; i++) h.emu.store.createKey({ name: `k${i}` });
    await h.control('PUT', '/faults', { rules: [{ route: 'GET /api/v1/keys', kind: 'listShift', times: 1, shift: 2 }] });
    const page = async (offset: number) => ((await h.api('GET', '/keys', { key: h.mk, query: { offset: String(offset) } })).body as { data: { name: string }[] }).data.map((k) => k.name);
    const first = await page(0);
    const second = await page(100);
    // k49 and k48 (the first two of page two) are in neither page, though they exist
    expect(first.at(-1)).toBe('k50');
    expect(second.slice(0, 2)).toEqual(['k47', 'k46']);
    expect(second).toHaveLength(48);
    expect([...first, ...second]).not.toContain('k49');
    // once only: the next listing is complete
    expect(await page(0)).toHaveLength(100);
    expect((await page(100))[0]).toBe('k49');
  });

  it.each([
    [{ offset: '-1' }, /offset/],
    [{ offset: 'ten' }, /offset/],
    [{ include_disabled: 'yes' }, /include_disabled/],
    [{ workspace_id: 'nope' }, /Workspace/],
  ])('rejects bad query %j with 400', async (query, message) => {
    const a = await h.api('GET', '/keys', { key: h.mk, query });
    expect(a.status).toBe(400);
    expect(errorOf(a).message).toMatch(message);
  });

  it('needs credentials (401) and a management key (403)', async () => {
    expect((await h.api('GET', '/keys')).status).toBe(401);
    const member = await h.createKey();
    expect((await h.api('GET', '/keys', { key: member.key })).status).toBe(403);
  });
});

describe('GET, PATCH, DELETE /keys/{hash}', () => {
  it('gets, updates only the fields sent, and deletes', async () => {
    const { hash } = await h.createKey({ name: 'bob', limit: 10, limit_reset: 'daily' });
    h.emu.clock.advance(5_000);
    const p = await h.api('PATCH', '/keys/{hash}', { key: h.mk, params: { hash }, body: { limit: 75, include_byok_in_limit: true } });
    expect(p.status).toBe(200);
    const d = (p.body as { data: Record<string, unknown> }).data;
    expect(d).toMatchObject({ name: 'bob', limit: 75, limit_remaining: 75, limit_reset: 'daily', include_byok_in_limit: true });
    expect(d['updated_at']).toEqual(expect.any(String));
    const cleared = await h.api('PATCH', '/keys/{hash}', { key: h.mk, params: { hash }, body: { limit: null, limit_reset: null, name: 'bob2', disabled: true } });
    expect((cleared.body as { data: unknown }).data).toMatchObject({ limit: null, limit_remaining: null, limit_reset: null, name: 'bob2', disabled: true });
    const g = await h.api('GET', '/keys/{hash}', { key: h.mk, params: { hash } });
    expect(g.status).toBe(200);
    const del = await h.api('DELETE', '/keys/{hash}', { key: h.mk, params: { hash } });
    expect(del).toMatchObject({ status: 200, body: { deleted: true } });
    expect((await h.api('GET', '/keys/{hash}', { key: h.mk, params: { hash } })).status).toBe(404);
  });

  it.each(['GET', 'PATCH', 'DELETE'])('%s of an unknown hash is 404 Resource not found', async (method) => {
    const a = await h.api(method, '/keys/{hash}', { key: h.mk, params: { hash: 'f'.repeat(64) }, body: method === 'PATCH' ? { name: 'x' } : undefined });
    expect(a.status).toBe(404);
    expect(errorOf(a)).toEqual({ code: 404, message: 'Resource not found' });
  });

  it.each([
    [{ disabled: 'yes' }, /disabled/],
    [{ limit: 'ten' }, /limit/],
    [{ limit_reset: 'yearly' }, /limit_reset/],
  ])('PATCH rejects %j with 400', async (body, message) => {
    const { hash } = await h.createKey();
    const a = await h.api('PATCH', '/keys/{hash}', { key: h.mk, params: { hash }, body });
    expect(a.status).toBe(400);
    expect(errorOf(a).message).toMatch(message);
  });

  it('needs a management key on every key route', async () => {
    const member = await h.createKey();
    for (const method of ['GET', 'PATCH', 'DELETE']) {
      const a = await h.api(method, '/keys/{hash}', { key: member.key, params: { hash: member.hash }, body: method === 'PATCH' ? {} : undefined });
      expect(a.status).toBe(403);
      expect((await h.api(method, '/keys/{hash}', { params: { hash: member.hash } })).status).toBe(401);
    }
  });
});
