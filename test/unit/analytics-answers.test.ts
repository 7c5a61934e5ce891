/**
 * What OpenRouter's analytics sends, in every form its official sources document (counts as strings or numbers,
 * nulls for unused metrics and unset dimensions, either time-column prefix, warnings, cachedAt), read by the
 * client to the same numbers; and how the operator keeps what an answer no longer has.
 */
import { describe, expect, it } from 'vitest';
import { analyticsView, keptAnalytics } from '../../src/controller/member/analytics.ts';
import type { TeamMemberStatus } from '../../src/api/schema.ts';
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
    // our own clock plays no part: only the answer's own Date
    expect(parseRateHeaders({ 'x-ratelimit-limit': '64', 'x-ratelimit-remaining': '0', ...headers })).toEqual({ limit: 64, remaining: 0, resetInMs: ms });
  });

  it('without a Date header an epoch cannot be read on their clock: a window (a minute) is assumed; seconds from now stay', () => {
    expect(parseRateHeaders({ 'x-ratelimit-reset': String(at + 42_000) })?.resetInMs).toBe(60_000);
    expect(parseRateHeaders({ 'x-ratelimit-reset': '42' })?.resetInMs).toBe(42_000);
    expect(parseRateHeaders({ 'x-ratelimit-reset': String(at + 86_400_000), date })?.resetInMs).toBe(3_600_000);
    expect(parseRateHeaders({})).toBeUndefined();
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

  it("after a restart keeps the days and models the last status showed that a read no longer has; the window's requests are its days", () => {
    const before = analyticsView([row('2027-03-08', 2, 0, 4, 'a'), row('2027-03-10', 1, 0, 1, 'b')], 'monthly', now);
    // the key that spent on the 8th was deleted, and the operator restarted: no row of it is read again
    const after = analyticsView([row('2027-03-10', 1.5, 0, 2, 'b')], 'monthly', now + 60_000, true, { ...before, analyzedAt: new Date(now).toISOString() });
    expect(after.days).toEqual([{ date: '2027-03-08', usd: 2, requests: 4 }, { date: '2027-03-10', usd: 1.5, requests: 2 }]);
    expect(after.models).toEqual([{ model: 'a', usd: 2, requests: 4 }, { model: 'b', usd: 1.5, requests: 2 }]);
    expect(after.requests).toBe(6);
    // a new window: the models of the last one do not carry, the days do (and none of them is in the window)
    const april = Date.parse('2027-04-01T01:00:00Z');
    const next = analyticsView([], 'monthly', april, true, { ...after, analyzedAt: new Date(now).toISOString() });
    expect(next.models).toEqual([]);
    expect(next.requests).toBe(0);
    expect(next.days.map((d) => d.date)).toEqual(['2027-03-08', '2027-03-10']);
  });

  it('keeps nothing the last status showed on another basis: a changed reset or BYOK setting', () => {
    const prev: TeamMemberStatus = { budget: { limitUSD: 5, remainingUSD: 5, reset: 'monthly' }, key: { hash: 'h', name: 'n', label: 'l', createdAt: '', disabled: false, reset: 'monthly', includeByok: true }, usage: { windowUSD: 1, dailyUSD: 1, weeklyUSD: 1, monthlyUSD: 1, byokUSD: 0, lifetimeUSD: 1, observedAt: '', requests: 55, days: [{ date: '2027-03-01', usd: 9, requests: 50 }], models: [{ model: 'm', usd: 9, requests: 55 }], analyzedAt: new Date(now).toISOString() } };
    expect(keptAnalytics(prev, { reset: 'monthly', includeByok: true })?.days).toHaveLength(1);
    expect(keptAnalytics(prev, { reset: 'daily', includeByok: true })).toBeUndefined();
    expect(keptAnalytics(prev, { reset: 'monthly', includeByok: false })).toBeUndefined();
    expect(keptAnalytics({ ...prev, key: undefined }, { reset: 'monthly', includeByok: true })).toBeUndefined();
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
    expect(book.rows('uid').map((r) => [r.date, r.usd]).toSorted((x, y) => String(x[0]).localeCompare(String(y[0])))).toEqual([['2027-03-01', 1], ['2027-03-10', 3]]);
    t += 86_400_000;
    await book.refresh(port, 31, [], () => 'uid');
    expect(book.last.full).toBe(true);
    // the row of the 1st is a deleted key's that OpenRouter no longer resolves: kept as last read, while in range
    expect(book.rows('uid').map((r) => [r.date, r.usd]).toSorted((x, y) => String(x[0]).localeCompare(String(y[0])))).toEqual([['2027-03-01', 1], ['2027-03-10', 3]]);
    // a month on, both days are out of the range kept
    t += 30 * 86_400_000;
    await book.refresh(port, 31, [], () => 'uid');
    expect(book.rows('uid')).toEqual([]);
  });

  it("keeps a deleted key's rows of the days asked again, beside the live key's, and says when nothing changed", async () => {
    const t = now;
    const keyRow = (key: string, requests: number): UsageRow => ({ key, model: 'm', date: '2027-03-10', usd: requests / 10, byokUsd: 0, requests });
    let rows = [keyRow('old', 4), keyRow('new', 1)];
    const port: AnalyticsPort = { usageByKeyModelDay: () => Promise.resolve({ rows, truncated: false, calls: 1, skipped: 0, skippedWhy: undefined, unresolved: [] }) };
    const book = new UsageBook({ now: () => t });
    expect(await book.refresh(port, 31, [], () => 'uid')).toBe(true);
    // the old key is deleted: its rows leave the answer; the new key made one more request
    rows = [keyRow('new', 2)];
    expect(await book.refresh(port, 31, [], () => 'uid')).toBe(true);
    expect(analyticsView(book.rows('uid'), 'daily', now).requests).toBe(6);
    expect(await book.refresh(port, 31, [], () => 'uid')).toBe(false);
  });
});
