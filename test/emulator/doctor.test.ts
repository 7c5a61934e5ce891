/**
 * `teamkeys doctor` against the emulator, run in-process through the CLI's own entry (flags, environment, output,
 * exit code), without a cluster: the management key comes from an environment variable. Every run is also checked
 * to print no key string and to send OpenRouter nothing but reads.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/program.ts';
import { keyName } from '../../src/controller/keyname.ts';
import { startEmulator, type Harness } from './harness.ts';

/** The only routes doctor may call: GETs and the analytics query, which reads. */
const READS = new Set([
  'GET /api/v1/key',
  'GET /api/v1/keys',
  'GET /api/v1/analytics/meta',
  'POST /api/v1/analytics/query',
  'GET /api/v1/guardrails',
  'GET /api/v1/guardrails/{id}/assignments/keys',
]);
const KEY_ENV = 'OPENROUTER_MANAGEMENT_KEY';

const issued: string[] = [];
let h: Harness;
beforeAll(async () => {
  h = await startEmulator({ onIssued: (s) => issued.push(s) });
});
afterAll(() => h.emu.stop());
beforeEach(() => h.emu.reset());

interface Run {
  code: number;
  out: string;
  err: string;
  rows: { check: string; result: string; detail: string }[];
  /** routes called during the run, with how many times */
  calls: Record<string, number>;
}

const total = (c: Record<string, Record<string, number>>, route: string) => Object.values(c[route] ?? {}).reduce((a, b) => a + b, 0);

/** Runs `teamkeys doctor` with the key in KEY_ENV and no kubeconfig (HOME has none). */
async function doctor(args: string[] = [], env: Record<string, string> = { [KEY_ENV]: h.mk }): Promise<Run> {
  const before = h.emu.counters();
  let out = '';
  let err = '';
  const io = { out: (s: string) => void (out += s), err: (s: string) => void (err += s) };
  const argv = ['doctor', '--openrouter-url', `${h.base}/api/v1`, '--management-key-env', KEY_ENV, ...args];
  const code = await runCli('teamkeys', argv, io, { HOME: '/nonexistent-home', ...env });
  const after = h.emu.counters();
  const calls = Object.fromEntries(Object.keys(after).map((r) => [r, total(after, r) - total(before, r)]).filter(([, n]) => n !== 0));
  // the whole output, every run: neither the management key nor any key the emulator issued
  for (const secret of [h.mk, ...issued]) expect(out + err).not.toContain(secret);
  for (const route of Object.keys(calls)) expect(READS, `doctor called ${route}`).toContain(route);
  const lines = out.split('\n');
  expect(lines[0]).toMatch(/^CHECK\s+RESULT\s+DETAIL$/);
  const rows = lines.slice(1, lines.indexOf('')).map((l) => {
    const [check = '', result = '', ...detail] = l.split(/ {3,}/);
    return { check, result, detail: detail.join('   ') };
  });
  return { code, out, err, rows, calls };
}

const row = (r: Run, check: string) => {
  const found = r.rows.find((x) => x.check === check);
  expect(found, `${check} in\n${r.out}`).toBeDefined();
  return found ?? { check, result: '', detail: '' };
};

/** A key named the way the operator names its keys, for operator id `cluster`. */
async function teamkeysKey(cluster: string, namespace: string, member: string): Promise<{ hash: string; key: string }> {
  return h.createKey({ name: keyName({ cluster, namespace, member, uid: randomUUID(), seq: 1 }) });
}

describe('teamkeys doctor', () => {
  it('passes every check on a healthy account, exit 0, and sends OpenRouter only reads', async () => {
    const alice = await teamkeysKey('doc1', 'ml-team', 'alice');
    await teamkeysKey('doc1', 'ml-team', 'bob');
    await h.createKey({ name: 'a key made by hand' });
    await h.control('POST', `/keys/${alice.hash}/spend`, { usd: 1.25, model: 'openai/gpt-4o-mini' });
    const g = (await h.api('POST', '/guardrails', { key: h.mk, body: { name: 'teamkeys/doc1/pro', allowed_models: ['openai/gpt-4o-mini'] } })).body as { data: { id: string } };
    await h.api('POST', '/guardrails/{id}/assignments/keys', { key: h.mk, params: { id: g.data.id }, body: { key_hashes: [alice.hash] } });
    await h.api('POST', '/guardrails', { key: h.mk, body: { name: 'teamkeys/other/pro', allowed_models: ['openai/gpt-4o-mini'] } });

    const r = await doctor(['--cluster-id', 'doc1']);
    expect(r.code, r.out).toBe(0);
    expect(r.rows.map((x) => [x.check, x.result])).toEqual([
      ['management key', 'ok'],
      ['key list', 'ok'],
      ['teamkeys keys', 'ok'],
      ['usage analytics', 'ok'],
      ['rate limits', 'ok'],
      ['guardrails', 'ok'],
    ]);
    expect(row(r, 'management key').detail).toMatch(/^sk-or-v1-\S+ from environment variable OPENROUTER_MANAGEMENT_KEY is a management key$/);
    expect(row(r, 'key list').detail).toContain('3 keys in 1 page');
    expect(row(r, 'teamkeys keys').detail).toContain('2 keys named teamkeys/doc1/… (operator id from --cluster-id); without the cluster');
    expect(row(r, 'usage analytics').detail).toBe('1 row for the last day in 2 calls');
    // the emulator sends X-RateLimit-* on analytics only, as OpenRouter documents it
    expect(row(r, 'rate limits').detail).toMatch(/^key list: none sent; analytics: 62 of 64 left, resets in \d+s$/);
    expect(row(r, 'guardrails').detail).toBe('1 guardrail named teamkeys/doc1/…: pro (1 key)');
    expect(r.out).toContain('All checks passed.');
    expect(r.calls).toEqual({
      'GET /api/v1/key': 1,
      'GET /api/v1/keys': 1,
      'GET /api/v1/analytics/meta': 1,
      'POST /api/v1/analytics/query': 1,
      'GET /api/v1/guardrails': 1,
      'GET /api/v1/guardrails/{id}/assignments/keys': 1,
    });
  });

  it('walks every page of the key list', async () => {
    for (let i = 0; i < 230; i++) h.emu.store.createKey({ name: `bulk-${i}` });
    const r = await doctor(['--cluster-id', 'doc1']);
    expect(r.code).toBe(0);
    expect(row(r, 'key list').detail).toContain('230 keys in 3 pages');
    expect(r.calls['GET /api/v1/keys']).toBe(3);
  });

  it('counts keys by operator id; without an id it skips that check and names the ids it found', async () => {
    await teamkeysKey('doc2', 'team-a', 'alice');
    await teamkeysKey('doc2', 'team-b', 'bob');
    await teamkeysKey('elsewhere', 'team-a', 'carol');
    await h.createKey({ name: 'teamkeys/not/a/key/name' });

    const mine = await doctor(['--cluster-id', 'doc2']);
    expect(mine.code).toBe(0);
    expect(row(mine, 'teamkeys keys')).toMatchObject({ result: 'ok', detail: expect.stringContaining('2 keys named teamkeys/doc2/…') });
    expect(row(mine, 'teamkeys keys').detail).toContain('orphans cannot be judged');

    const unknown = await doctor();
    expect(unknown.code).toBe(0);
    expect(row(unknown, 'teamkeys keys')).toMatchObject({ result: 'skipped', detail: expect.stringContaining('pass --cluster-id. Keys named by any teamkeys operator: doc2: 2, elsewhere: 1') });
    expect(row(unknown, 'guardrails').result).toBe('skipped');
    expect(unknown.out).toContain('All checks passed (2 skipped).');
  });

  it('refuses a member key: exit 1, the first row says it is not a management key, nothing else is tried', async () => {
    const member = await h.createKey({ name: 'a member key' });
    const r = await doctor([], { [KEY_ENV]: member.key });
    expect(r.code).toBe(1);
    expect(r.rows).toHaveLength(1);
    expect(row(r, 'management key')).toMatchObject({ result: 'problem', detail: expect.stringContaining('is a standard API key, not a management key') });
    expect(r.out).toContain('https://openrouter.ai/settings/management-keys');
    expect(r.calls).toEqual({ 'GET /api/v1/key': 1 });
  });

  it('says which variable is empty when the key is not in the environment', async () => {
    const r = await doctor([], {});
    expect(r.code).toBe(1);
    expect(r.rows).toEqual([{ check: 'management key', result: 'problem', detail: 'environment variable OPENROUTER_MANAGEMENT_KEY: the variable is not set, or empty' }]);
    expect(r.calls).toEqual({});
  });

  it('reports an unreachable URL as one problem row, exit 1, no stack trace', async () => {
    let out = '';
    let err = '';
    const code = await runCli('teamkeys', ['doctor', '--openrouter-url', 'http://127.0.0.1:1/api/v1', '--management-key-env', KEY_ENV], { out: (s) => void (out += s), err: (s) => void (err += s) }, { HOME: '/nonexistent-home', [KEY_ENV]: h.mk });
    expect(code).toBe(1);
    expect(err).toBe('');
    expect(out.split('\n').slice(0, 3)).toEqual([
      expect.stringMatching(/^CHECK\s+RESULT\s+DETAIL$/),
      expect.stringMatching(/^management key\s+problem\s+cannot reach http:\/\/127\.0\.0\.1:1\/api\/v1: .*ECONNREFUSED/),
      '',
    ]);
    expect(out).not.toContain(h.mk);
    expect(out).not.toMatch(/\n\s+at /);
  });

  it.each([
    [403, 'this management key may not read analytics'],
    [500, 'Internal Server Error'],
  ])('fails the analytics check on a %i from the analytics query, exit 1, budgets still said to work', async (status, advice) => {
    await h.control('PUT', '/faults', { rules: [{ route: 'POST /api/v1/analytics/query', kind: 'error', status }] });
    const r = await doctor(['--cluster-id', 'doc1']);
    expect(r.code).toBe(1);
    const a = row(r, 'usage analytics');
    expect(a.result).toBe('problem');
    expect(a.detail).toContain(`${status}`);
    expect(a.detail).toContain('budgets, limits and offboarding do not depend on analytics and still work');
    expect(a.detail).toContain(advice);
    // every other check still ran and passed
    expect(r.rows.filter((x) => x.result !== 'ok').map((x) => x.check)).toEqual(['usage analytics']);
  }, 15_000);

  it('warns about an analytics row it cannot read, exit 0', async () => {
    const k = await teamkeysKey('doc1', 'ml-team', 'alice');
    await h.control('POST', `/keys/${k.hash}/spend`, { usd: 2, model: 'openai/gpt-4o-mini' });
    await h.control('PUT', '/analytics', { badRows: 1 });
    const r = await doctor(['--cluster-id', 'doc1']);
    expect(r.code).toBe(0);
    expect(row(r, 'usage analytics')).toMatchObject({ result: 'warning', detail: expect.stringMatching(/^0 rows for the last day in 2 calls; 1 skipped as unreadable \(.+\)/) });
    expect(r.out).toContain('No problems; 1 warning.');
  });

  it('warns when analytics was rate limited, and shows the quota used up', async () => {
    await h.control('PUT', '/analytics', { perMinute: 1, windowSeconds: 1 });
    const r = await doctor(['--cluster-id', 'doc1']);
    expect(r.code).toBe(0);
    expect(row(r, 'usage analytics')).toMatchObject({ result: 'warning', detail: expect.stringContaining('rate limited 1 time (429)') });
    expect(row(r, 'rate limits')).toMatchObject({ result: 'warning', detail: expect.stringMatching(/analytics: 0 of 1 left/) });
  });

  it('fails the key list check when GET /keys fails, exit 1', async () => {
    await h.control('PUT', '/faults', { rules: [{ route: 'GET /api/v1/keys', kind: 'error', status: 500 }] });
    const r = await doctor(['--cluster-id', 'doc1']);
    expect(r.code).toBe(1);
    expect(row(r, 'key list')).toMatchObject({ result: 'problem', detail: expect.stringContaining('page 1 failed after 0 keys in 0 pages') });
    expect(row(r, 'teamkeys keys').result).toBe('skipped');
  });

  it('refuses a key string given as the variable name, without echoing it (exit 2)', async () => {
    const member = await h.createKey({ name: 'pasted' });
    let out = '';
    let err = '';
    const code = await runCli('teamkeys', ['doctor', '--management-key-env', member.key], { out: (s) => void (out += s), err: (s) => void (err += s) }, { HOME: '/nonexistent-home' });
    expect(code).toBe(2);
    expect(err).toContain('takes the NAME of an environment variable');
    expect(out + err).not.toContain(member.key);
  });
});
