import type { AnalyticsPort, UsageRow } from '../domain/usage.ts';
import type { Clock } from '../util/clock.ts';

/**
 * Who spent what on which model, per UTC day: refreshed with each usage sync by one analytics query for the whole
 * account (more only when OpenRouter cuts the answer), never one call per key. Rows are filed by the member
 * (UID) whose key made them, rotated-away keys included.
 */
export class UsageBook {
  private byMember = new Map<string, UsageRow[]>();
  /** when the last read completed (ISO); undefined before the first one */
  at: string | undefined;
  /** the last read: queries made, rows no member could be found for, and whether OpenRouter cut the answer */
  last = { calls: 0, unattributed: 0, truncated: false };
  private readonly clock: Clock;

  constructor(clock: Clock) {
    this.clock = clock;
  }

  rows(memberUid: string): readonly UsageRow[] {
    return this.byMember.get(memberUid) ?? [];
  }

  /**
   * Reads `days` UTC days up to now. `owner` maps an api_key_id value (a key name, hash or label) to the UID of
   * the member it belongs to, or undefined for keys that are not this cluster's.
   */
  async refresh(port: AnalyticsPort, days: number, keyHashes: readonly string[], owner: (key: string) => string | undefined): Promise<void> {
    const now = this.clock.now();
    const dayMs = 86_400_000;
    const since = new Date(Math.floor(now / dayMs) * dayMs - (days - 1) * dayMs);
    const answer = await port.usageByKeyModelDay(since, new Date(now), keyHashes);
    const next = new Map<string, UsageRow[]>();
    let unattributed = 0;
    for (const r of answer.rows) {
      const uid = owner(r.key);
      if (uid === undefined) {
        unattributed++;
        continue;
      }
      const list = next.get(uid) ?? [];
      list.push(r);
      next.set(uid, list);
    }
    this.byMember = next;
    this.at = new Date(now).toISOString();
    this.last = { calls: answer.calls, unattributed, truncated: answer.truncated };
  }
}
