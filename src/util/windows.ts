/** When a spending cap resets: OpenRouter's three UTC windows, or never (a lifetime budget). */
export const RESET_PERIODS = ['daily', 'weekly', 'monthly', 'never'] as const;
export type ResetPeriod = (typeof RESET_PERIODS)[number];
/** OpenRouter's usage windows: UTC day, UTC week starting Monday, UTC month; resets happen at 00:00 UTC. */
export type Window = Exclude<ResetPeriod, 'never'>;

const DAY_MS = 86_400_000;

export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export function startOfUtcDay(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS;
}

function startOfUtcWeek(ms: number): number {
  const day = startOfUtcDay(ms);
  const weekday = (new Date(day).getUTCDay() + 6) % 7; // Monday = 0
  return day - weekday * DAY_MS;
}

function startOfUtcMonth(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

export function windowStart(period: Window, ms: number): number {
  switch (period) {
    case 'daily':
      return startOfUtcDay(ms);
    case 'weekly':
      return startOfUtcWeek(ms);
    case 'monthly':
      return startOfUtcMonth(ms);
  }
}

/** The instant the current window ends and the next reset happens. */
export function nextReset(period: Window, ms: number): number {
  switch (period) {
    case 'daily':
      return startOfUtcDay(ms) + DAY_MS;
    case 'weekly':
      return startOfUtcWeek(ms) + 7 * DAY_MS;
    case 'monthly': {
      const d = new Date(ms);
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
    }
  }
}
