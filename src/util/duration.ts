const UNIT: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1_000 };

/** Go-style durations as Kubernetes users write them: 90m, 2160h, 1h30m — the one pattern for CRDs and flags. */
export const DURATION = /^([0-9]+(h|m|s))+$/;

/** Parses the Go-style durations the CRDs accept (e.g. 2160h, 1h30m, 90s) into milliseconds. */
export function parseDuration(s: string): number {
  const re = /(\d+)(h|m|s)/g;
  let total = 0;
  let consumed = 0;
  for (const m of s.matchAll(re)) {
    total += Number(m[1]) * (UNIT[m[2] ?? 's'] ?? 0);
    consumed += m[0].length;
  }
  if (consumed !== s.length || s.length === 0) throw new Error(`invalid duration ${JSON.stringify(s)}`);
  return total;
}
