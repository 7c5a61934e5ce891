/**
 * Pure: how fast the operator may replace a member's key on its own (a key deleted, disabled outside, run out, or
 * no longer in its Secret). Each replacement is a new key, a Secret write and a workload restart: whatever goes
 * wrong (a clock that disagrees, an admin disabling every new key, a Secret deleted by a loop), the rate stays
 * bounded. The first two replacements in a day are immediate; each one after waits for the key to have lived
 * twice as long as the one before (30 s, 1 min, 2 min, ...), up to an hour: a loop makes about 30 keys a day. Rotations people ask for are not throttled: they are bounded by
 * the requests themselves.
 */
import type { RetiredKey } from './carry.ts';

const HOUR_MS = 3_600_000;
const MEMORY_MS = 24 * HOUR_MS;
/** Replacements in the last day that go through at once. */
const FREE = 2;
const FIRST_WAIT_MS = 30_000;

/** The earliest instant the current key (issued at `issuedAt`, the operator's clock) may be replaced. */
export function replaceNotBefore(retired: readonly RetiredKey[] | undefined, issuedAt: string | undefined, now: number): number {
  const recent = (retired ?? []).filter((r) => {
    const at = Date.parse(r.retiredAt);
    return at <= now && now - at < MEMORY_MS;
  }).length;
  if (recent < FREE || issuedAt === undefined) return now;
  return Date.parse(issuedAt) + Math.min(HOUR_MS, FIRST_WAIT_MS * 2 ** (recent - FREE));
}
