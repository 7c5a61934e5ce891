/**
 * Pure: the report's period (--since) as whole UTC days, and what a member spent in it. status.usage.days holds
 * UTC days, so a period is whole UTC days counted back from today: --since 7d is today and the 6 days before.
 */
import { USAGE_DAYS_MAX, type DaySpend } from '../api/schema.ts';
import { roundUsd } from '../util/money.ts';
import { utcDay } from '../util/windows.ts';

const DAY_MS = 86_400_000;
const UNIT_MS: Record<string, number> = { h: 3_600_000, d: DAY_MS, w: 7 * DAY_MS };

export interface Period {
  /** as the user wrote it, e.g. 7d */
  since: string;
  /** first and last UTC day counted, YYYY-MM-DD, both included */
  from: string;
  to: string;
  days: number;
}

/** Parses --since: a sum of hours, days and weeks such as 7d, 36h, 2w or 1w3d; at most the 31 days status keeps. */
export function parseSince(text: string): number {
  const parts = [...text.matchAll(/(\d+)([hdw])/g)];
  const ms = parts.reduce((sum, m) => sum + Number(m[1]) * (UNIT_MS[m[2] ?? ''] ?? 0), 0);
  if (parts.map((m) => m[0]).join('') !== text || ms <= 0) throw new Error(`${JSON.stringify(text)} is not a duration such as 7d, 36h or 2w`);
  if (ms > USAGE_DAYS_MAX * DAY_MS) throw new Error(`at most ${USAGE_DAYS_MAX}d: status keeps the last ${USAGE_DAYS_MAX} days`);
  return ms;
}

/** The period: `sinceMs` in days, a part of a day counting as a whole one, ending with today. */
export function periodOf(since: string, sinceMs: number, now: number): Period {
  const days = Math.max(1, Math.ceil(sinceMs / DAY_MS));
  return { since, from: utcDay(now - (days - 1) * DAY_MS), to: utcDay(now), days };
}

/** Spend and requests over the period's days; undefined when the member's analytics were never read. */
export function spendIn(period: Period, days: readonly DaySpend[] | undefined): { usd: number; requests: number } | undefined {
  if (!days) return undefined;
  // YYYY-MM-DD compares as text in date order
  const counted = days.filter((d) => d.date >= period.from && d.date <= period.to);
  return { usd: roundUsd(counted.reduce((s, d) => s + d.usd, 0)), requests: counted.reduce((s, d) => s + d.requests, 0) };
}
