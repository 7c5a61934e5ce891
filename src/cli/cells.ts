/** Pure: how report figures read in a table or a summary. Unknown is "-", never 0. */
import type { ReportRow } from './rows.ts';

export const UNKNOWN = '-';

/**
 * Text from the cluster as a terminal may show it: control characters (an escape sequence in a displayName written
 * before the CRD refused them) become U+FFFD instead of reaching the terminal.
 */
export function printable(s: string): string {
  // oxlint-disable-next-line no-control-regex -- control characters are what it replaces
  return s.replace(/[\x00-\x1F\x7F-\x9F]/g, '\uFFFD');
}

/** The same for a CSV field, which quotes line breaks and tabs rather than losing them: only those survive. */
export function printableField(s: string): string {
  // oxlint-disable-next-line no-control-regex -- control characters are what it replaces
  return s.replace(/[\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]/g, '\uFFFD');
}

/** Dollars with cents; a spend too small to show in cents is "<0.01", not "0.00". */
export function usd(v: number | null): string {
  if (v === null) return UNKNOWN;
  if (v > 0 && v < 0.005) return '<0.01';
  return v.toFixed(2);
}

export function count(v: number | null): string {
  return v === null ? UNKNOWN : String(v);
}

export function percent(v: number | null): string {
  return v === null ? UNKNOWN : `${v}%`;
}

/** A limit: "none" when the budget is known to have no cap, "-" when the budget was never reported. */
export function limit(r: Pick<ReportRow, 'limitUSD' | 'reset'>): string {
  if (r.limitUSD !== null) return usd(r.limitUSD);
  return r.reset === null ? UNKNOWN : 'none';
}

/** An instant to the minute, in UTC: 2026-11-28 14:05. */
export function minute(iso: string): string {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? iso : new Date(ms).toISOString().slice(0, 16).replace('T', ' ');
}

/** The FORECAST column: "exhausted", when the budget runs out (UTC), "ok" when it lasts the window, "-" unknown. */
export function forecast(r: Pick<ReportRow, 'budgetExhausted' | 'forecast'>): string {
  if (r.budgetExhausted) return 'exhausted';
  if (!r.forecast) return UNKNOWN;
  return r.forecast.exhaustsAt ? minute(r.forecast.exhaustsAt) : 'ok';
}
