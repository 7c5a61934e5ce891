import type { AnalyticsPort, UsageRow } from '../domain/usage.ts';
import type { Clock } from '../util/clock.ts';
import { utcDay } from '../util/windows.ts';

const DAY_MS = 86_400_000;
/** Days read again at every sync (today and the two before): older days no longer change, and cover a skewed clock. */
const RECENT_DAYS = 3;
/** How often every kept day is read again, for corrections OpenRouter makes late. */
const FULL_EVERY_MS = DAY_MS;

/**
 * Who spent what on which model, per UTC day: refreshed with each usage sync by one analytics query for the whole
 * account (more only when OpenRouter cuts the answer), never one call per key. After the first read only the last
 * days are asked again, older days kept from before. Rows are filed by the member (UID) whose key made them,
 * rotated-away keys included while OpenRouter still resolves them.
 */
export class UsageBook {
  private byMember = new Map<string, UsageRow[]>();
  /** when the last read completed (ISO); undefined before the first one */
  at: string | undefined;
  /** when every kept day was last read */
  private fullAt: number | undefined;
  /** the book's signature, to tell whether a read changed anything */
  private signed = signature(new Map());
  /** the last read: queries made, rows no member could be found for, rows skipped as unreadable, and whether OpenRouter cut the answer */
  last = { calls: 0, unattributed: 0, skipped: 0, skippedWhy: undefined as string | undefined, unresolved: 0, truncated: false, full: false };
  private readonly clock: Clock;

  constructor(clock: Clock) {
    this.clock = clock;
  }

  rows(memberUid: string): readonly UsageRow[] {
    return this.byMember.get(memberUid) ?? [];
  }

  /**
   * Reads `days` UTC days up to now (the last few only, when every day was read within a day). `owner` maps an
   * api_key_id value (a key name, hash or label) to the UID of the member it belongs to, or undefined for keys
   * that are not this cluster's. Says whether anything a status shows changed.
   */
  async refresh(port: AnalyticsPort, days: number, keyHashes: readonly string[], owner: (key: string) => string | undefined): Promise<boolean> {
    const now = this.clock.now();
    const first = Math.floor(now / DAY_MS) * DAY_MS - (days - 1) * DAY_MS;
    const full = this.fullAt === undefined || Math.abs(now - this.fullAt) >= FULL_EVERY_MS;
    const since = full ? first : Math.max(first, Math.floor(now / DAY_MS) * DAY_MS - (RECENT_DAYS - 1) * DAY_MS);
    const answer = await port.usageByKeyModelDay(new Date(since), new Date(now), keyHashes, full);
    const next = new Map<string, UsageRow[]>();
    const file = (uid: string, r: UsageRow) => {
      const list = next.get(uid) ?? [];
      list.push(r);
      next.set(uid, list);
    };
    let unattributed = 0;
    const answered = new Set<string>();
    for (const r of answer.rows) {
      const uid = r.key === null ? undefined : owner(r.key);
      if (uid === undefined) unattributed++;
      else file(uid, r);
      answered.add(rowId(r));
    }
    // a day not asked again is kept as read; a row of a day asked again that the answer no longer has is a deleted
    // key's (OpenRouter stops resolving it): kept as last read, as the spend it stands for happened
    const [from, asked] = [utcDay(first), utcDay(since)];
    for (const [uid, rows] of this.byMember) for (const r of rows) if (r.date >= from && (r.date < asked || !answered.has(rowId(r)))) file(uid, r);
    const signed = signature(next);
    const changed = signed !== this.signed;
    this.signed = signed;
    this.byMember = next;
    this.at = new Date(now).toISOString();
    if (full) this.fullAt = now;
    this.last = { calls: answer.calls, unattributed, skipped: answer.skipped, skippedWhy: answer.skippedWhy, unresolved: answer.unresolved.length, truncated: answer.truncated, full };
    return changed;
  }
}

const rowId = (r: UsageRow) => `${r.key ?? ''}\u0000${r.model ?? ''}\u0000${r.date}`;

/** Cheap and order-free: whether a read changed anything a member's status shows. */
function signature(book: ReadonlyMap<string, readonly UsageRow[]>): string {
  let rows = 0;
  let usd = 0;
  let requests = 0;
  for (const list of book.values()) {
    rows += list.length;
    for (const r of list) {
      usd += r.usd + r.byokUsd;
      requests += r.requests;
    }
  }
  return `${book.size}/${rows}/${usd.toFixed(6)}/${requests}`;
}
