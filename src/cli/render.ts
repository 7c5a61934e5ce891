/**
 * Pure: the report as each -o format prints it. json and yaml print the Report document below (its shape is
 * documented in docs/report.md); csv one line per member; table and wide a kubectl-style table with a total row.
 */
import Table from 'cli-table3';
import { stringify } from 'yaml';
import { API_VERSION } from '../api/schema.ts';
import * as cell from './cells.ts';
import { csv } from './csv.ts';
import type { Period } from './period.ts';
import type { ReportRow, SortKey, Totals } from './rows.ts';

export const OUTPUTS = ['table', 'wide', 'json', 'csv', 'yaml'] as const;
export type Output = (typeof OUTPUTS)[number];

export interface Report {
  apiVersion: string;
  kind: 'UsageReport';
  generatedAt: string;
  period: Period;
  /** namespace null: every namespace; policy null: every policy */
  scope: { namespace: string | null; policy: string | null };
  sort: SortKey;
  rows: ReportRow[];
  totals: Totals;
}

export function report(fields: Omit<Report, 'apiVersion' | 'kind'>): Report {
  return { apiVersion: API_VERSION, kind: 'UsageReport', ...fields };
}

export function render(r: Report, output: Output): string {
  switch (output) {
    case 'json':
      return `${JSON.stringify(r, null, 2)}\n`;
    case 'yaml':
      // YAML 1.1 quoting: dates and words like "yes" stay strings for 1.1 readers (PyYAML) as for 1.2 ones
      return stringify(r, { version: '1.1' });
    case 'csv':
      return csvOf(r.rows);
    case 'table':
    case 'wide':
      return tableOf(r, output === 'wide');
  }
}

const CSV_COLUMNS: readonly [string, (r: ReportRow) => string | number | null][] = [
  ['name', (r) => r.name],
  ['namespace', (r) => r.namespace],
  ['policy', (r) => r.policy],
  ['displayName', (r) => r.displayName],
  ['email', (r) => r.email],
  ['spendUSD', (r) => r.spendUSD],
  ['requests', (r) => r.requests],
  ['windowUSD', (r) => r.windowUSD],
  ['limitUSD', (r) => r.limitUSD],
  ['remainingUSD', (r) => r.remainingUSD],
  ['usedPercent', (r) => r.usedPercent],
  ['reset', (r) => r.reset],
  ['topModel', (r) => r.topModel?.model ?? null],
  ['exhaustsAt', (r) => r.forecast?.exhaustsAt ?? null],
  ['ready', (r) => r.ready?.status ?? null],
  ['readyReason', (r) => r.ready?.reason ?? null],
  ['analyzedAt', (r) => r.analyzedAt],
];

/** One line per member, no total line (a CSV is data to sum); unknown figures are empty fields. */
function csvOf(rows: readonly ReportRow[]): string {
  return csv(CSV_COLUMNS.map(([h]) => h), rows.map((r) => CSV_COLUMNS.map(([, pick]) => {
    const v = pick(r);
    return typeof v === 'string' ? cell.printableField(v) : v;
  })));
}

export type Align = 'left' | 'right';
interface Column {
  head: string;
  align: Align;
  wide?: true;
  cell: (r: ReportRow) => string;
  total?: (t: Totals) => string;
}

const COLUMNS: readonly Column[] = [
  { head: 'MEMBER', align: 'left', cell: (r) => r.name, total: () => 'TOTAL' },
  { head: 'NAMESPACE', align: 'left', cell: (r) => r.namespace },
  { head: 'POLICY', align: 'left', cell: (r) => r.policy },
  { head: 'DISPLAY NAME', align: 'left', wide: true, cell: (r) => r.displayName ?? cell.UNKNOWN },
  { head: 'EMAIL', align: 'left', wide: true, cell: (r) => r.email ?? cell.UNKNOWN },
  { head: 'SPEND', align: 'right', cell: (r) => cell.usd(r.spendUSD), total: (t) => cell.usd(t.spendUSD) },
  { head: 'REQUESTS', align: 'right', cell: (r) => cell.count(r.requests), total: (t) => cell.count(t.requests) },
  { head: 'WINDOW SPEND', align: 'right', wide: true, cell: (r) => cell.usd(r.windowUSD), total: (t) => cell.usd(t.windowUSD) },
  { head: 'LIMIT', align: 'right', cell: cell.limit, total: (t) => cell.usd(t.limitUSD) },
  { head: 'REMAINING', align: 'right', cell: (r) => cell.usd(r.remainingUSD), total: (t) => cell.usd(t.remainingUSD) },
  { head: 'USED%', align: 'right', cell: (r) => cell.percent(r.usedPercent) },
  { head: 'RESET', align: 'left', wide: true, cell: (r) => r.reset ?? cell.UNKNOWN },
  { head: 'TOP MODEL', align: 'left', cell: (r) => r.topModel?.model ?? cell.UNKNOWN },
  { head: 'FORECAST', align: 'left', cell: cell.forecast, total: (t) => (t.forecastExhausting ? `${t.forecastExhausting} exhausting` : '') },
  { head: 'READY', align: 'left', wide: true, cell: (r) => r.ready?.reason ?? cell.UNKNOWN },
];

/** kubectl's look: no borders, columns three spaces apart; figures right-aligned; a total row; the period below. */
function tableOf(r: Report, wide: boolean): string {
  const columns = COLUMNS.filter((c) => wide || !c.wide);
  const rows = r.rows.map((row) => columns.map((c) => cell.printable(c.cell(row))));
  if (r.rows.length > 0) rows.push(columns.map((c) => c.total?.(r.totals) ?? ''));
  const lines = plainTable(columns.map((c) => c.head), columns.map((c) => c.align), rows);
  return [...lines, ...footnotes(r)].map((l) => `${l}\n`).join('');
}

/** The lines of a kubectl-style table (no borders, columns three spaces apart), for every table the CLI prints. */
export function plainTable(head: readonly string[], aligns: readonly Align[], rows: readonly (readonly string[])[]): string[] {
  const t = new Table({
    head: [...head],
    colAligns: [...aligns],
    chars: Object.fromEntries(CHAR_NAMES.map((n) => [n, ''])),
    style: { 'padding-left': 0, 'padding-right': 3, head: [], border: [], compact: true },
  });
  for (const row of rows) t.push([...row]);
  return t.toString().split('\n').map((l) => l.trimEnd()).filter((l) => l !== '');
}

const CHAR_NAMES = ['top', 'top-mid', 'top-left', 'top-right', 'bottom', 'bottom-mid', 'bottom-left', 'bottom-right', 'left', 'left-mid', 'mid', 'mid-mid', 'right', 'right-mid', 'middle'] as const;

function footnotes(r: Report): string[] {
  const p = r.period;
  const notes = [
    `SPEND and REQUESTS: ${p.from} to ${p.to}, ${p.days} UTC day${p.days === 1 ? '' : 's'} (--since ${p.since}, today so far included). LIMIT, REMAINING and USED%: each member's current budget window.`,
  ];
  const n = r.totals.membersWithoutAnalytics;
  if (n > 0) notes.push(`${n} member${n === 1 ? '' : 's'} without usage analytics yet (status.usage.days not written): SPEND and REQUESTS "-", left out of the total.`);
  return notes;
}
