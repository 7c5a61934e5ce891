/** The report's pure logic on a fixed clock: period sums, rows, sorting, figures, formats, the status summary. */
import { parse as parseCsv } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import type { TeamMember, TeamMemberStatus } from '../../src/api/schema.ts';
import * as cell from '../../src/cli/cells.ts';
import { csvField } from '../../src/cli/csv.ts';
import { parseSince, periodOf, spendIn } from '../../src/cli/period.ts';
import { render, report } from '../../src/cli/render.ts';
import { rotateRequest } from '../../src/cli/rotate-request.ts';
import { rowOf, sortRows, totalsOf, usedPercent, type SortKey } from '../../src/cli/rows.ts';
import { summary } from '../../src/cli/summary.ts';

const NOW = Date.parse('2026-11-26T15:00:00Z'); // a Thursday
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const WEEK = periodOf('7d', 7 * DAY, NOW);

function member(name: string, status: TeamMemberStatus | undefined, spec: Partial<TeamMember['spec']> = {}, namespace = 'ml'): TeamMember {
  return { apiVersion: 'teamkeys.dev/v1alpha1', kind: 'TeamMember', metadata: { name, namespace, uid: name }, spec: { policy: 'pro', suspended: false, ...spec }, status };
}

const usage = (windowUSD: number, extra: Partial<NonNullable<TeamMemberStatus['usage']>> = {}): NonNullable<TeamMemberStatus['usage']> => ({
  windowUSD, dailyUSD: 0, weeklyUSD: 0, monthlyUSD: windowUSD, byokUSD: 0, lifetimeUSD: windowUSD, observedAt: '2026-11-26T14:59:00Z', ...extra,
});
const cond = (type: string, status: 'True' | 'False', reason: string, message = '') => ({ type, status, reason, message, lastTransitionTime: '2026-11-01T00:00:00Z' });

describe('--since', () => {
  it.each([['7d', 7 * DAY], ['36h', 36 * HOUR], ['2w', 14 * DAY], ['1w3d', 10 * DAY], ['31d', 31 * DAY]])('%s is %i ms', (s, ms) => {
    expect(parseSince(s)).toBe(ms);
  });
  it.each(['', '7', 'd', '7m', '7d ', '-1d', '0d', '32d', '5w', '7d7x'])('refuses %j', (s) => {
    expect(() => parseSince(s)).toThrow(/duration|at most 31d/);
  });
  it('covers whole UTC days, today included: 7d is today and the 6 days before', () => {
    expect(WEEK).toEqual({ since: '7d', from: '2026-11-20', to: '2026-11-26', days: 7 });
    expect(periodOf('36h', 36 * HOUR, NOW)).toMatchObject({ from: '2026-11-25', to: '2026-11-26', days: 2 });
    expect(periodOf('1h', HOUR, NOW)).toMatchObject({ from: '2026-11-26', to: '2026-11-26', days: 1 });
  });
  it('sums the days inside the period only, and knows nothing without days', () => {
    const days = [
      { date: '2026-11-19', usd: 100, requests: 100 }, // the day before the period
      { date: '2026-11-20', usd: 1.1, requests: 3 },
      { date: '2026-11-24', usd: 2.2, requests: 4 },
      { date: '2026-11-26', usd: 0.1, requests: 1 },
      { date: '2026-11-27', usd: 50, requests: 50 }, // a clock ahead of ours
    ];
    expect(spendIn(WEEK, days)).toEqual({ usd: 3.4, requests: 8 });
    expect(spendIn(periodOf('1d', DAY, NOW), days)).toEqual({ usd: 0.1, requests: 1 });
    expect(spendIn(WEEK, [])).toEqual({ usd: 0, requests: 0 });
    expect(spendIn(WEEK, undefined)).toBeUndefined();
  });
});

describe('rows', () => {
  const alice = member('alice', {
    budget: { limitUSD: 50, remainingUSD: 30, reset: 'monthly' },
    usage: usage(20, {
      days: [{ date: '2026-11-25', usd: 12.5, requests: 40 }],
      models: [{ model: 'openai/gpt-4o-mini', usd: 15, requests: 90 }, { model: 'google/gemini-2.5-flash', usd: 5, requests: 10 }],
      forecast: { burnUSDPerDay: 0.77, projectedUSD: 23.1 },
      analyzedAt: '2026-11-26T14:00:00Z',
    }),
    conditions: [cond('Ready', 'True', 'KeyReady')],
  }, { displayName: 'Alice A.', email: 'alice@example.com' });
  const bob = member('bob', {
    budget: { limitUSD: 10, remainingUSD: 1, reset: 'weekly' },
    usage: usage(9, { days: [{ date: '2026-11-26', usd: 9, requests: 300 }], forecast: { burnUSDPerDay: 3, projectedUSD: 12, exhaustsAt: '2026-11-26T23:00:00Z' } }),
    conditions: [cond('Ready', 'True', 'KeyReady'), cond('BudgetExhausted', 'False', 'NearLimit'), cond('BudgetForecast', 'True', 'RunsOutBeforeReset')],
  });
  const carol = member('carol', { budget: { reset: 'never' }, usage: usage(4) }, {}, 'data'); // analytics never read
  const dave = member('dave', undefined, {}, 'data'); // the operator has not reported yet
  const rows = [alice, bob, carol, dave].map((m) => rowOf(m, WEEK));

  it('reads the period from usage.days and the window from the budget', () => {
    expect(rows[0]).toMatchObject({
      name: 'alice', namespace: 'ml', policy: 'pro', displayName: 'Alice A.', spendUSD: 12.5, requests: 40, windowUSD: 20, limitUSD: 50, remainingUSD: 30,
      usedPercent: 40, reset: 'monthly', topModel: { model: 'openai/gpt-4o-mini' }, forecast: { exhaustsAt: null }, ready: { reason: 'KeyReady' },
    });
    expect(rows[1]).toMatchObject({ spendUSD: 9, requests: 300, usedPercent: 90, forecast: { exhaustsAt: '2026-11-26T23:00:00Z' } });
  });
  it('leaves unknown figures null, never 0', () => {
    expect(rows[2]).toMatchObject({ spendUSD: null, requests: null, windowUSD: 4, limitUSD: null, usedPercent: null, reset: 'never', topModel: null, forecast: null });
    expect(rows[3]).toMatchObject({ spendUSD: null, windowUSD: null, limitUSD: null, remainingUSD: null, reset: null, ready: null });
  });
  it('totals the known figures and counts the unknown', () => {
    expect(totalsOf(rows)).toEqual({ members: 4, spendUSD: 21.5, requests: 340, windowUSD: 33, limitUSD: 60, remainingUSD: 31, membersWithoutAnalytics: 2, forecastExhausting: 1 });
  });
  it.each<[SortKey, string[]]>([
    ['cost', ['alice', 'bob', 'carol', 'dave']],
    ['requests', ['bob', 'alice', 'carol', 'dave']],
    ['used', ['bob', 'alice', 'carol', 'dave']],
    ['remaining', ['bob', 'alice', 'carol', 'dave']],
    ['name', ['alice', 'bob', 'carol', 'dave']],
  ])('sorts by %s, unknown last', (key, order) => {
    expect(sortRows(rows, key).map((r) => r.name)).toEqual(order);
  });
  it('breaks ties by namespace, then name', () => {
    const same = [member('b', undefined, {}, 'y'), member('a', undefined, {}, 'y'), member('z', undefined, {}, 'x')].map((m) => rowOf(m, WEEK));
    expect(sortRows(same, 'cost').map((r) => `${r.namespace}/${r.name}`)).toEqual(['x/z', 'y/a', 'y/b']);
  });
  // oxlint-disable-next-line no-control-regex -- control characters (bar the newline) are what must not be printed
  const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;
  it('never prints a control character from the cluster to the terminal (an escape sequence in a displayName)', () => {
    const evil = member('eve', undefined, { displayName: 'Eve\u001b]8;;https://evil.example\u0007click\u001b[2J' });
    const r = [rowOf(evil, WEEK)];
    const text = render(report({ generatedAt: new Date(NOW).toISOString(), period: WEEK, scope: { namespace: null, policy: null }, sort: 'cost', rows: r, totals: totalsOf(r) }), 'wide');
    expect(text).not.toMatch(CONTROL);
    expect(text).toContain('Eve\uFFFD]8;;https://evil.example\uFFFDclick\uFFFD[2J');
    expect(summary(evil)).not.toMatch(CONTROL);
    expect(render(report({ generatedAt: new Date(NOW).toISOString(), period: WEEK, scope: { namespace: null, policy: null }, sort: 'cost', rows: r, totals: totalsOf(r) }), 'csv')).not.toContain('\u001b');
  });
  it('computes USED% of the window, one decimal', () => {
    expect(usedPercent(1, 3)).toBe(33.3);
    expect(usedPercent(0, 0)).toBe(0);
    expect(usedPercent(0.01, 0)).toBe(100);
    expect(usedPercent(55, 50)).toBe(110);
    expect(usedPercent(undefined, 50)).toBeNull();
    expect(usedPercent(5, undefined)).toBeNull();
  });

  describe('formats', () => {
    const doc = report({ generatedAt: new Date(NOW).toISOString(), period: WEEK, scope: { namespace: null, policy: null }, sort: 'cost', rows: sortRows(rows, 'cost'), totals: totalsOf(rows) });

    it('table: kubectl columns, figures, a total row and what the period is', () => {
      const lines = render(doc, 'table').trimEnd().split('\n');
      expect(lines[0]?.split(/\s{2,}/)).toEqual(['MEMBER', 'NAMESPACE', 'POLICY', 'SPEND', 'REQUESTS', 'LIMIT', 'REMAINING', 'USED%', 'TOP MODEL', 'FORECAST']);
      expect(lines[1]?.split(/\s{2,}/)).toEqual(['alice', 'ml', 'pro', '12.50', '40', '50.00', '30.00', '40%', 'openai/gpt-4o-mini', 'ok']);
      expect(lines[2]?.split(/\s{2,}/)).toEqual(['bob', 'ml', 'pro', '9.00', '300', '10.00', '1.00', '90%', '-', '2026-11-26 23:00']);
      expect(lines[3]?.split(/\s{2,}/)).toEqual(['carol', 'data', 'pro', '-', '-', 'none', '-', '-', '-', '-']);
      expect(lines[5]?.split(/\s{2,}/)).toEqual(['TOTAL', '21.50', '340', '60.00', '31.00', '1 exhausting']);
      expect(lines[6]).toContain('2026-11-20 to 2026-11-26, 7 UTC days');
      expect(lines[7]).toContain('2 members without usage analytics yet');
      // columns line up: every figure of SPEND ends where its header does
      const end = (lines[0]?.indexOf('SPEND') ?? 0) + 'SPEND'.length;
      for (const l of lines.slice(1, 6)) expect(l[end - 1]).toMatch(/[0-9-]/);
    });
    it('wide adds who, window spend, reset and the Ready reason', () => {
      const lines = render(doc, 'wide').split('\n');
      expect(lines[0]?.split(/\s{2,}/)).toEqual(['MEMBER', 'NAMESPACE', 'POLICY', 'DISPLAY NAME', 'EMAIL', 'SPEND', 'REQUESTS', 'WINDOW SPEND', 'LIMIT', 'REMAINING', 'USED%', 'RESET', 'TOP MODEL', 'FORECAST', 'READY']);
      expect(lines[1]?.split(/\s{2,}/)).toEqual(['alice', 'ml', 'pro', 'Alice A.', 'alice@example.com', '12.50', '40', '20.00', '50.00', '30.00', '40%', 'monthly', 'openai/gpt-4o-mini', 'ok', 'KeyReady']);
    });
    it('json and yaml carry the same document', () => {
      const json = JSON.parse(render(doc, 'json')) as unknown;
      expect(json).toEqual(JSON.parse(JSON.stringify(doc)));
      expect(parseYaml(render(doc, 'yaml'))).toEqual(json);
      expect(render(doc, 'yaml')).toContain('from: "2026-11-20"');
      expect(json).toMatchObject({ apiVersion: 'teamkeys.dev/v1alpha1', kind: 'UsageReport', generatedAt: '2026-11-26T15:00:00.000Z', period: WEEK, totals: { spendUSD: 21.5 } });
    });
    it('csv: a header, one line per member, unknown as empty fields', () => {
      const records = parseCsv<Record<string, string>>(render(doc, 'csv'), { columns: true });
      expect(records.map((r) => [r['name'], r['spendUSD'], r['requests'], r['limitUSD']])).toEqual([['alice', '12.5', '40', '50'], ['bob', '9', '300', '10'], ['carol', '', '', ''], ['dave', '', '', '']]);
    });
    it('csv quotes what needs quoting', () => {
      expect(['plain', 'a,b', 'say "hi"', 'two\nlines', ' pad', 3, null].map(csvField)).toEqual(['plain', '"a,b"', '"say ""hi"""', '"two\nlines"', '" pad"', '3', '']);
      const tricky = rowOf(member('eve', undefined, { displayName: 'Doe, "Jane"\nSr.' }), WEEK);
      const [rec] = parseCsv<Record<string, string>>(render({ ...doc, rows: [tricky] }, 'csv'), { columns: true });
      expect(rec?.['displayName']).toBe('Doe, "Jane"\nSr.');
    });
  });
});

describe('figures', () => {
  it('shows money in cents, a tiny spend as <0.01, unknown as -', () => {
    expect([12.345, 0, 0.004, 0.005, null].map(cell.usd)).toEqual(['12.35', '0.00', '<0.01', '0.01', '-']);
  });
  it('reads the forecast: exhausted, when it runs out, ok, or unknown', () => {
    expect(cell.forecast({ budgetExhausted: true, forecast: null })).toBe('exhausted');
    expect(cell.forecast({ budgetExhausted: false, forecast: { burnUSDPerDay: 1, projectedUSD: 5, exhaustsAt: '2026-11-28T14:05:09Z' } })).toBe('2026-11-28 14:05');
    expect(cell.forecast({ budgetExhausted: false, forecast: { burnUSDPerDay: 1, projectedUSD: 5, exhaustsAt: null } })).toBe('ok');
    expect(cell.forecast({ budgetExhausted: false, forecast: null })).toBe('-');
  });
});

describe('rotate', () => {
  it('asks with the time and the reason, and never repeats the value there now', () => {
    expect(rotateRequest(NOW, undefined, undefined)).toBe('2026-11-26T15:00:00.000Z');
    expect(rotateRequest(NOW, 'leaked in a CI log', undefined)).toBe('2026-11-26T15:00:00.000Z leaked in a CI log');
    expect(rotateRequest(NOW, undefined, '2026-11-26T15:00:00.000Z')).toBe('2026-11-26T15:00:00.001Z');
  });
});

describe('status summary', () => {
  it('says ready, key, budget, forecast, rotation and activity', () => {
    const text = summary(member('alice', {
      conditions: [cond('Ready', 'True', 'KeyReady', 'key is in Secret alice-openrouter'), cond('Rotating', 'True', 'Draining', 'the previous key works until 2026-11-26T16:00:00Z'), cond('Suspended', 'False', 'Active')],
      key: { hash: 'h', name: 'n', label: 'sk-or-v1-abc...def', createdAt: '2026-11-26T14:50:00Z', disabled: false, reset: 'monthly', includeByok: false },
      secretName: 'alice-openrouter',
      budget: { limitUSD: 50, remainingUSD: 30, reset: 'monthly' },
      usage: usage(20, { forecast: { burnUSDPerDay: 0.77, projectedUSD: 23.1 } }),
      rotation: { count: 2, lastRotatedAt: '2026-11-26T14:50:00Z', lastTrigger: 'Requested', nextRotationAt: '2027-02-24T14:50:00Z' },
    }, { displayName: 'Alice A.' }));
    expect(text).toBe([
      'ml/alice   policy pro   Alice A.',
      '  Ready     True KeyReady: key is in Secret alice-openrouter',
      '  Key       sk-or-v1-abc...def, issued 2026-11-26 14:50, in Secret alice-openrouter',
      '  Budget    20.00 USD spent of 50.00 this monthly window (40%), 30.00 remaining',
      '  Forecast  0.77 USD/day, 23.10 USD by the reset: lasts the window',
      '  Rotation  in progress (Draining): the previous key works until 2026-11-26T16:00:00Z; 2 rotations, last 2026-11-26 14:50 (Requested); next due 2027-02-24 14:50',
      '  Activity  active',
      '',
    ].join('\n'));
  });
  it('names what is wrong: not ready, suspended, inactive, a pending request, nothing reported', () => {
    const text = summary({
      ...member('bob', {
        conditions: [cond('Ready', 'False', 'Suspended', 'spec.suspended is true'), cond('Suspended', 'True', 'SuspendedBySpec', 'the key is disabled'), cond('BudgetExhausted', 'True', 'LimitReached')],
        budget: { limitUSD: 10, remainingUSD: 0, reset: 'weekly' },
        usage: usage(10),
        inactive: { since: '2026-11-20T00:00:00Z', keyDeleted: false },
        rotation: { count: 0, lastRequest: 'old' },
      }),
      metadata: { name: 'bob', namespace: 'ml', uid: 'u', annotations: { 'teamkeys.dev/rotate': 'new' } },
    });
    expect(text).toContain('Ready     False Suspended: spec.suspended is true');
    expect(text).toContain('Budget    10.00 USD spent of 10.00 this weekly window (100%), 0.00 remaining [LimitReached]');
    expect(text).toContain('Rotation  never rotated; requested (new), not acted on yet');
    expect(text).toContain('Activity  inactive since 2026-11-20 00:00: key disabled');
    expect(text).toContain('Also      Suspended (SuspendedBySpec): the key is disabled');
    expect(summary(member('new', undefined))).toContain('Ready     Unknown: the operator has not reported on this member yet');
  });
});
