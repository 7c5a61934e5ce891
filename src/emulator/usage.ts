import { roundUsd } from '../util/money.ts';
import { utcDay, windowStart, type Window } from '../util/windows.ts';
import type { KeyRecord } from './state.ts';

export interface Windows {
  daily: number;
  weekly: number;
  monthly: number;
  byokDaily: number;
  byokWeekly: number;
  byokMonthly: number;
}

/** Sums a key's per-day spend into the current UTC day, week (from Monday) and month. */
export function windowsOf(key: KeyRecord, now: number): Windows {
  const w: Windows = { daily: 0, weekly: 0, monthly: 0, byokDaily: 0, byokWeekly: 0, byokMonthly: 0 };
  const today = utcDay(now);
  const week = utcDay(windowStart('weekly', now));
  const month = utcDay(windowStart('monthly', now));
  for (const [day, v] of Object.entries(key.days)) {
    if (day > today) continue; // spend recorded "in the future" by a clock moved backwards
    if (day === today) {
      w.daily += v.usage;
      w.byokDaily += v.byok;
    }
    if (day >= week) {
      w.weekly += v.usage;
      w.byokWeekly += v.byok;
    }
    if (day >= month) {
      w.monthly += v.usage;
      w.byokMonthly += v.byok;
    }
  }
  return {
    daily: roundUsd(w.daily), weekly: roundUsd(w.weekly), monthly: roundUsd(w.monthly),
    byokDaily: roundUsd(w.byokDaily), byokWeekly: roundUsd(w.byokWeekly), byokMonthly: roundUsd(w.byokMonthly),
  };
}

/** Spend that counts against the key's limit in the current reset window (lifetime when it never resets). */
function spendAgainstLimit(key: KeyRecord, now: number): number {
  const w = windowsOf(key, now);
  const byPeriod: Record<Window, [number, number]> = {
    daily: [w.daily, w.byokDaily],
    weekly: [w.weekly, w.byokWeekly],
    monthly: [w.monthly, w.byokMonthly],
  };
  const [usage, byok] = key.limitReset ? byPeriod[key.limitReset] : [key.usage, key.byokUsage];
  return roundUsd(usage + (key.includeByokInLimit ? byok : 0));
}

export function limitRemaining(key: KeyRecord, now: number): number | null {
  if (key.limit === null) return null;
  return roundUsd(Math.max(0, key.limit - spendAgainstLimit(key, now)));
}

/** Drops per-day rows older than any window can reach, so state stays small. */
export function pruneDays(key: KeyRecord, now: number): void {
  const oldest = utcDay(Math.min(windowStart('monthly', now), windowStart('weekly', now)));
  for (const day of Object.keys(key.days)) if (day < oldest) delete key.days[day];
}

export function isExpired(key: KeyRecord, now: number): boolean {
  return key.expiresAt !== null && Date.parse(key.expiresAt) <= now;
}
