/**
 * The adapter between OpenRouter's analytics API and the controller's usage rows. Analytics has its own quota at
 * OpenRouter (64 requests a minute for the account), so it runs in a lane of its own: its 429s pause only this
 * lane, never key operations, and a call waits for the window's reset and tries again.
 */
import type { AnalyticsPort, UsageAnswer, UsageRow } from '../domain/usage.ts';
import { monotonicClock } from '../util/clock.ts';
import type { OpenRouterClient } from './client.ts';
import { OpenRouterError } from './errors.ts';
import { RateLimiter } from './limiter.ts';
import { AnalyticsAnswer, AnalyticsMeta, UsageQueryRow } from './schemas.ts';

/** What one query asks OpenRouter for at most; OpenRouter's default is 1000. */
const ANALYTICS_ROW_LIMIT = 10_000;
/** Key hashes per filtered query when the whole account does not fit one answer: to start with, and at least. */
export const ANALYTICS_KEY_BATCH = 100;
/** Batches grow to fill half an answer (a short range has few rows per key), up to this many hashes. */
const ANALYTICS_KEY_BATCH_MAX = 1000;
/** The lane's default budget: half of OpenRouter's 64 a minute, leaving room for other tools and operators. */
const ANALYTICS_PER_MINUTE = 32;

const DAY_MS = 86_400_000;
const NEEDED = { metrics: ['total_usage', 'byok_usage', 'request_count'], dimensions: ['api_key_id', 'model'], granularities: ['day'] } as const;
const HASH = /\b[0-9a-f]{64}\b/g;

interface Part {
  rows: UsageRow[];
  truncated: boolean;
}

export class OpenRouterAnalytics implements AnalyticsPort {
  private readonly client: OpenRouterClient;
  readonly lane: RateLimiter;
  private checked = false;
  /** the last whole-account answer was cut or timed out: go straight to batches until the rows would fit one answer again */
  private split = false;
  /** the widest time range OpenRouter answered without a 408, in days */
  private spanDays = Number.POSITIVE_INFINITY;
  /** hashes OpenRouter said it cannot resolve: deleted keys, never asked for again */
  private readonly unresolvable = new Set<string>();
  /** hashes per batch: grown to fill half an answer, back to the minimum if OpenRouter refuses a long filter */
  private batch = ANALYTICS_KEY_BATCH;
  private batchMax = ANALYTICS_KEY_BATCH_MAX;

  private readonly patience: { retries: number; waitMaxMs: number };

  /**
   * `patience`: how often a query refused for a transient reason is tried again in the call, and the longest wait
   * for it (the operator waits out a window's reset; a one-off check need not).
   */
  constructor(client: OpenRouterClient, perMinute = ANALYTICS_PER_MINUTE, patience = { retries: 3, waitMaxMs: 65_000 }) {
    this.client = client;
    this.lane = new RateLimiter(perMinute / 60, 2, monotonicClock);
    this.patience = patience;
  }

  async usageByKeyModelDay(since: Date, until: Date, keyHashes: readonly string[], full = false): Promise<UsageAnswer> {
    const tally = empty();
    if (full) {
      // a full read tries afresh what past answers taught: a warning or a 408 may have been passing
      this.unresolvable.clear();
      this.spanDays = Number.POSITIVE_INFINITY;
    }
    if (!this.checked) await this.checkMeta(tally);
    const asked = new Set(keyHashes);
    for (const h of this.unresolvable) if (!asked.has(h)) this.unresolvable.delete(h);
    const hashes = keyHashes.filter((h) => !this.unresolvable.has(h));
    if (!this.split) {
      const whole = await this.ranged(tally, since, until, undefined).catch((e: unknown) => {
        // a whole-account query that times out even for one day: our keys only, a batch at a time
        if (e instanceof OpenRouterError && e.kind === 'timeout') return undefined;
        throw e;
      });
      if (whole && !whole.truncated) return this.done(tally, whole.rows, false);
      this.split = true;
    }
    // too many rows for one answer: only our keys, a batch at a time, halving a batch that is still cut
    const rows: UsageRow[] = [];
    let truncated = false;
    const take = async (batch: readonly string[]): Promise<void> => {
      const a = await this.ranged(tally, since, until, batch);
      if (!a.truncated || batch.length === 1) {
        rows.push(...a.rows);
        truncated ||= a.truncated;
        return;
      }
      const half = Math.ceil(batch.length / 2);
      await take(batch.slice(0, half));
      await take(batch.slice(half));
    };
    for (let i = 0; i < hashes.length;) {
      const batch = hashes.slice(i, i + this.batch);
      const before = rows.length;
      try {
        await take(batch);
      } catch (e) {
        // a filter longer than OpenRouter takes: the minimum from now on
        if (!(e instanceof OpenRouterError && e.kind === 'badRequest') || batch.length <= ANALYTICS_KEY_BATCH) throw e;
        rows.length = before; // the batch is asked again, in smaller pieces: none of its rows twice
        this.batch = this.batchMax = ANALYTICS_KEY_BATCH;
        continue;
      }
      i += batch.length;
      const perKey = Math.max(1, (rows.length - before) / batch.length);
      this.batch = Math.max(ANALYTICS_KEY_BATCH, Math.min(this.batchMax, Math.floor(ANALYTICS_ROW_LIMIT / 2 / perKey)));
    }
    // our rows would fit one answer with room to spare: back to one query next time
    if (rows.length < ANALYTICS_ROW_LIMIT / 2) this.split = false;
    return this.done(tally, rows, truncated);
  }

  private done(tally: UsageAnswer, rows: UsageRow[], truncated: boolean): UsageAnswer {
    return { ...tally, rows, truncated, unresolved: [...this.unresolvable] };
  }

  /** The range in pieces no wider than OpenRouter last answered, each halved again on a 408. */
  private async ranged(tally: UsageAnswer, since: Date, until: Date, hashes: readonly string[] | undefined): Promise<Part> {
    const out: Part = { rows: [], truncated: false };
    const add = (p: Part) => {
      out.rows.push(...p.rows);
      out.truncated ||= p.truncated;
    };
    const narrowing = async (from: number, to: number): Promise<void> => {
      try {
        add(await this.query(tally, from, to, hashes));
      } catch (e) {
        const days = dayCount(from, to);
        if (!(e instanceof OpenRouterError && e.kind === 'timeout') || days <= 1) throw e;
        const half = Math.ceil(days / 2);
        this.spanDays = Math.min(this.spanDays, half);
        // day-aligned halves: a day's rows come from exactly one query
        const mid = startOfDay(from) + half * DAY_MS;
        await narrowing(from, mid - 1);
        await narrowing(mid, to);
      }
    };
    const step = Number.isFinite(this.spanDays) ? this.spanDays * DAY_MS : Number.POSITIVE_INFINITY;
    for (let from = since.getTime(); from <= until.getTime(); from = startOfDay(from) + step) {
      await narrowing(from, Math.min(until.getTime(), startOfDay(from) + step - 1));
      // a cut whole-account answer sends the caller to batches of keys: the other pieces would be asked for nothing
      if (!Number.isFinite(step) || (hashes === undefined && out.truncated)) break;
    }
    return out;
  }

  /** The query relies on three metrics, two dimensions and daily granularity: check once that they exist. */
  private async checkMeta(tally: UsageAnswer): Promise<void> {
    tally.calls++;
    const meta = (await this.client.request('GET', 'GET /analytics/meta', '/analytics/meta', AnalyticsMeta, undefined, this.callOptions())).data;
    for (const [what, names, offered] of [['metrics', NEEDED.metrics, meta.metrics], ['dimensions', NEEDED.dimensions, meta.dimensions], ['granularities', NEEDED.granularities, meta.granularities]] as const) {
      const have = new Set(offered.map((x) => x.name));
      const missing = names.filter((n: string) => !have.has(n));
      if (missing.length > 0) throw new OpenRouterError('invalidResponse', 'GET /analytics/meta', `analytics lacks ${what} ${missing.join(', ')}`);
    }
    this.checked = true;
  }

  private callOptions() {
    // a read in its own lane, retried after the window's reset
    return { limiter: this.lane, read: true, ...this.patience };
  }

  private async query(tally: UsageAnswer, from: number, to: number, hashes: readonly string[] | undefined): Promise<Part> {
    tally.calls++;
    const body = {
      metrics: NEEDED.metrics,
      dimensions: NEEDED.dimensions,
      granularity: 'day',
      time_range: { start: new Date(from).toISOString(), end: new Date(to).toISOString() },
      limit: ANALYTICS_ROW_LIMIT,
      ...(hashes ? { filters: [{ field: 'api_key_id', operator: 'in', value: hashes }] } : {}),
    };
    const d = (await this.client.request('POST', 'POST /analytics/query', '/analytics/query', AnalyticsAnswer, body, this.callOptions())).data;
    const rows: UsageRow[] = [];
    for (const raw of d.data) {
      const r = UsageQueryRow.safeParse(raw);
      if (r.success) {
        rows.push(r.data);
        continue;
      }
      tally.skipped++;
      const issue = r.error.issues[0];
      tally.skippedWhy ??= `${issue?.path.join('.') || 'row'}: ${issue?.message ?? 'invalid'}`;
    }
    for (const w of d.warnings ?? []) for (const h of w.match(HASH) ?? []) if (hashes?.includes(h)) this.unresolvable.add(h);
    return { rows, truncated: d.metadata.truncated };
  }
}

function empty(): UsageAnswer {
  return { rows: [], truncated: false, calls: 0, skipped: 0, skippedWhy: undefined, unresolved: [] };
}

function startOfDay(t: number): number {
  return Math.floor(t / DAY_MS) * DAY_MS;
}

/** UTC days touched by [from, to]. */
function dayCount(from: number, to: number): number {
  return Math.floor(to / DAY_MS) - Math.floor(from / DAY_MS) + 1;
}
