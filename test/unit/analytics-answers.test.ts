/**
 * What OpenRouter's analytics sends, in every form its official sources document (counts as strings or numbers,
 * nulls for unused metrics and unset dimensions, either time-column prefix, warnings, cachedAt), read by the
 * client to the same numbers; and how the operator keeps what an answer no longer has.
 */
import { describe, expect, it } from 'vitest';
import { analyticsView } from '../../src/controller/member/analytics.ts';
import { UsageBook } from '../../src/controller/usagebook.ts';
import type { AnalyticsPort, UsageAnswer, UsageRow } from '../../src/domain/usage.ts';
import { parseRateHeaders } from '../../src/openrouter/errors.ts';
import { AnalyticsAnswer, UsageQueryRow } from '../../src/openrouter/schemas.ts';

const expected = { key: 'teamkeys/c/ns/ada/uid/1', model: 'openai/gpt-4.1-2025-04-14', date: '2027-03-10', usd: 1.25, byokUsd: 0, requests: 1523 };
const base = { api_key_id: expected.key, model: expected.model, total_usage: 1.25, request_count: '1523' };

describe('a usage row, in each documented form, reads to the same numbers', () => {
  it.each([
    ['counts as strings (the real service)', { ...base, date__day: '2027-03-10T00:00:00.000Z' }],
    ['counts as numbers (the OpenAPI example)', { ...base, request_count: 1523, date__day: '2027-03-10T00:00:00.000Z' }],
    ['the created_at__ time column', { ...base, created_at__day: '2027-03-10T00:00:00.000Z' }],
    ['a bare date', { ...base, date__day: '2027-03-10' }],
    ['byok_usage null: nothing to count', { ...base, byok_usage: null, date__day: '2027-03-10' }],
    ['byok_usage as 0', { ...base, byok_usage: 0, date__day: '2027-03-10' }],
    ['a cost sent as a string', { ...base, total_usage: '1.25', date__day: '2027-03-10' }],
    ['fields it does not know', { ...base, tokens_prompt: '900', tokens_completion: null, date__day: '2027-03-10' }],
  ])('%s', (_name, raw) => {
    expect(UsageQueryRow.parse(raw)).toEqual(expected);
  });

  it('reads null as 0 for a metric and keeps an unset dimension as null', () => {
    expect(UsageQueryRow.parse({ api_key_id: null, model: null, date__day: '2027-03-10', total_usage: null, request_count: null })).toEqual({ key: null, model: null, date: '2027-03-10', usd: 0, byokUsd: 0, requests: 0 });
    expect(UsageQueryRow.parse({ ...base, api_key_id: 12345, date__day: '2027-03-10' }).key).toBe('12345');
  });

  it.each([
    ['a count that is a word', { ...base, request_count: 'n/a', date__day: '2027-03-10' }, /^request_count: /],
    ['a negative cost', { ...base, total_usage: -1, date__day: '2027-03-10' }, /^total_usage: /],
    ['no time column', { ...base }, /^date__day: /],
    ['a time column that is no date', { ...base, date__day: 'yesterday' }, /^date__day: /],
  ])('refuses a row with %s, naming the field and never its value', (_name, raw, why) => {
    const r = UsageQueryRow.safeParse(raw);
    expect(r.success).toBe(false);
    const issue = r.error?.issues[0];
    expect(`${issue?.path.join('.')}: ${issue?.message}`).toMatch(why);
    expect(JSON.stringify(r.error?.issues)).not.toContain('n/a');
  });

  it('takes the envelope with warnings and cachedAt, or without them', () => {
    const meta = { query_time_ms: 3, row_count: 0, truncated: false };
    for (const data of [{ data: [], metadata: meta }, { data: [], metadata: meta, warnings: ['Could not resolve api_key_id x'], cachedAt: 1_800_000_000_000 }, { data: [], metadata: meta, warnings: null }]) {
      expect(AnalyticsAnswer.safeParse({ data }).success).toBe(true);
    }
  });
});

describe("X-RateLimit headers are read on OpenRouter's clock", () => {
  const date = 'Wed, 10 Mar 2027 12:00:00 GMT';
  const at = Date.parse(date);
  it.each([
    ["an epoch in ms, against the answer's Date", { 'x-ratelimit-reset': String(at + 42_000), date }, 42_000],
    ['an epoch in seconds', { 'x-ratelimit-reset': String(at / 1000 + 42), date }, 42_000],
    ['seconds from now', { 'x-ratelimit-reset': '42', date }, 42_000],
    ['a reset already past', { 'x-ratelimit-reset': String(at - 5_000), date }, 0],
  ])('%s', (_name, headers, ms) => {
    // our own clock is 10 minutes ahead: it must not matter
    expect(parseRateHeaders({ 'x-ratelimit-limit': '64', 'x-ratelimit-remaining': '0', ...headers }, at + 600_000)).toEqual({ limit: 64, remaining: 0, resetInMs: ms });
  });

  it('without a Date header an epoch is measured on our clock, for at most an hour', () => {
    expect(parseRateHeaders({ 'x-ratelimit-reset': String(at + 42_000) }, at)?.resetInMs).toBe(42_000);
    expect(parseRateHeaders({ 'x-ratelimit-reset': String(at + 86_400_000) }, at)?.resetInMs).toBe(3_600_000);
    expect(parseRateHeaders({}, at)).toBeUndefined();
  });
});

const now = Date.parse('2027-03-10T12:00:00Z');
const row = (date: string, usd: number, byokUsd = 0, requests = 1, model = 'm'): UsageRow => ({ key: 'k', model, date, usd, byokUsd, requests });

describe('analyticsView counts what the limit counts, and keeps what a deleted key spent', () => {
  it('takes BYOK out of total_usage when the limit does not count it', () => {
    const rows = [row('2027-03-10', 5, 3), row('2027-03-09', 1)];
    expect(analyticsView(rows, 'monthly', now, true).days.map((d) => d.usd)).toEqual([1, 5]);
    expect(analyticsView(rows, 'monthly', now, false).days.map((d) => d.usd)).toEqual([1, 2]);
    expect(analyticsView(rows, 'monthly', now, false).models).toEqual([{ model: 'm', usd: 3, requests: 2 }]);
  });

  it('keeps the days, models and requests the last status showed when the rows of a deleted key are gone', () => {
    const before = analyticsView([row('2027-03-08', 2, 0, 4, 'a'), row('2027-03-10', 1, 0, 1, 'b')], 'monthly', now);
    // the key that spent on the 8th was deleted: OpenRouter no longer resolves it
    const after = analyticsView([row('2027-03-10', 1.5, 0, 2, 'b')], 'monthly', now + 60_000, true, { ...before, analyzedAt: new Date(now).toISOString() });
    expect(after.days).toEqual([{ date: '2027-03-08', usd: 2, requests: 4 }, { date: '2027-03-10', usd: 1.5, requests: 2 }]);
    expect(after.models).toEqual([{ model: 'a', usd: 2, requests: 4 }, { model: 'b', usd: 1.5, requests: 2 }]);
    expect(after.requests).toBe(5);
    // a new window: the models and requests of the last one do not carry, the days do
    const april = Date.parse('2027-04-01T01:00:00Z');
    const next = analyticsView([], 'monthly', april, true, { ...after, analyzedAt: new Date(now).toISOString() });
    expect(next.models).toEqual([]);
    expect(next.requests).toBe(0);
    expect(next.days.map((d) => d.date)).toEqual(['2027-03-08', '2027-03-10']);
  });
});

describe('UsageBook reads every kept day once a day, and the last three days at every other sync', () => {
  it('asks for the recent days only and keeps older rows from before', async () => {
    let t = now;
    const asked: [string, string][] = [];
    let rows: UsageRow[] = [row('2027-03-01', 1), row('2027-03-10', 2)];
    const port: AnalyticsPort = {
      usageByKeyModelDay: (since, until): Promise<UsageAnswer> => {
        asked.push([since.toISOString().slice(0, 10), until.toISOString().slice(0, 10)]);
        return Promise.resolve({ rows: rows.filter((r) => r.date >= since.toISOString().slice(0, 10)), truncated: false, calls: 1, skipped: 0, skippedWhy: undefined, unresolved: [] });
      },
    };
    const book = new UsageBook({ now: () => t });
    await book.refresh(port, 31, [], () => 'uid');
    expect(book.last.full).toBe(true);
    // the key that spent on the 1st is deleted: a full read would no longer see it
    rows = [row('2027-03-10', 3)];
    t += 3_600_000;
    await book.refresh(port, 31, [], () => 'uid');
    expect(asked).toEqual([['2027-02-08', '2027-03-10'], ['2027-03-08', '2027-03-10']]);
    expect(book.rows('uid').map((r) => [r.date, r.usd])).toEqual([['2027-03-01', 1], ['2027-03-10', 3]]);
    t += 86_400_000;
    await book.refresh(port, 31, [], () => 'uid');
    expect(book.last.full).toBe(true);
    expect(book.rows('uid').map((r) => r.date)).toEqual(['2027-03-10']);
  });
});
