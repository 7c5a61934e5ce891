/** The adapter between OpenRouter's analytics API and the controller's usage rows. */
import type { AnalyticsPort, UsageAnswer, UsageRow } from '../domain/usage.ts';
import type { OpenRouterClient } from './client.ts';
import { OpenRouterError } from './errors.ts';
import { AnalyticsAnswer, AnalyticsMeta } from './schemas.ts';

/** What one query asks OpenRouter for at most; OpenRouter's default is 1000. */
export const ANALYTICS_ROW_LIMIT = 10_000;
/** Key hashes per filtered query when the whole account does not fit one answer. */
export const ANALYTICS_KEY_BATCH = 100;

const NEEDED = { metrics: ['total_usage', 'request_count'], dimensions: ['api_key_id', 'model'], granularities: ['day'] } as const;

export class OpenRouterAnalytics implements AnalyticsPort {
  private readonly client: OpenRouterClient;
  private checked = false;
  /** the last whole-account answer was cut: go straight to batches until the rows would fit one answer again */
  private split = false;

  constructor(client: OpenRouterClient) {
    this.client = client;
  }

  async usageByKeyModelDay(since: Date, until: Date, keyHashes: readonly string[]): Promise<UsageAnswer> {
    let calls = 0;
    if (!this.checked) {
      await this.checkMeta();
      calls++;
    }
    const run = async (hashes: readonly string[] | undefined): Promise<{ rows: UsageRow[]; truncated: boolean }> => {
      calls++;
      return this.query(since, until, hashes);
    };
    if (!this.split) {
      const whole = await run(undefined);
      if (!whole.truncated) return { ...whole, calls };
      this.split = true;
    }
    // too many rows for one answer: only our keys, a batch at a time, halving a batch that is still cut
    const rows: UsageRow[] = [];
    let truncated = false;
    const take = async (hashes: readonly string[]): Promise<void> => {
      const a = await run(hashes);
      if (!a.truncated || hashes.length === 1) {
        rows.push(...a.rows);
        truncated ||= a.truncated;
        return;
      }
      const half = Math.ceil(hashes.length / 2);
      await take(hashes.slice(0, half));
      await take(hashes.slice(half));
    };
    for (let i = 0; i < keyHashes.length; i += ANALYTICS_KEY_BATCH) await take(keyHashes.slice(i, i + ANALYTICS_KEY_BATCH));
    // our rows would fit one answer with room to spare: back to one query next time
    if (rows.length < ANALYTICS_ROW_LIMIT / 2) this.split = false;
    return { rows, truncated, calls };
  }

  /** The query relies on two metrics, two dimensions and daily granularity: check once that they exist. */
  private async checkMeta(): Promise<void> {
    const meta = (await this.client.request('GET', 'GET /analytics/meta', '/analytics/meta', AnalyticsMeta)).data;
    for (const [what, names, offered] of [['metrics', NEEDED.metrics, meta.metrics], ['dimensions', NEEDED.dimensions, meta.dimensions], ['granularities', NEEDED.granularities, meta.granularities]] as const) {
      const have = new Set(offered.map((x) => x.name));
      const missing = names.filter((n: string) => !have.has(n));
      if (missing.length > 0) throw new OpenRouterError('invalidResponse', 'GET /analytics/meta', `analytics lacks ${what} ${missing.join(', ')}`);
    }
    this.checked = true;
  }

  private async query(since: Date, until: Date, hashes: readonly string[] | undefined): Promise<{ rows: UsageRow[]; truncated: boolean }> {
    const body = {
      metrics: NEEDED.metrics,
      dimensions: NEEDED.dimensions,
      granularity: 'day',
      time_range: { start: since.toISOString(), end: until.toISOString() },
      limit: ANALYTICS_ROW_LIMIT,
      ...(hashes ? { filters: [{ field: 'api_key_id', operator: 'in', value: hashes }] } : {}),
    };
    const d = (await this.client.request('POST', 'POST /analytics/query', '/analytics/query', AnalyticsAnswer, body)).data;
    return {
      rows: d.data.map((r) => ({ key: r.api_key_id, model: r.model, date: r.date__day.slice(0, 10), usd: r.total_usage, requests: r.request_count })),
      truncated: d.metadata.truncated,
    };
  }
}
