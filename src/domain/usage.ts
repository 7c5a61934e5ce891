/** Spend per key, model and UTC day, as OpenRouter's analytics reports it, and the port it is read through. */

export interface UsageRow {
  /** the api_key_id value as OpenRouter shows it: the key's name (its human-readable label), or its hash */
  key: string;
  model: string;
  /** UTC day, YYYY-MM-DD */
  date: string;
  usd: number;
  requests: number;
}

export interface UsageAnswer {
  rows: UsageRow[];
  /** OpenRouter left rows out (its row limit), even after splitting the query by key */
  truncated: boolean;
  /** how many queries the answer took */
  calls: number;
}

export interface AnalyticsPort {
  /**
   * Spend and requests per key, model and day from `since` to now. One query for the whole account when it fits
   * OpenRouter's row limit; otherwise one per 100 of `keyHashes` (the keys whose rows matter), split further while
   * an answer is still cut. Fails with an OpenRouterError when the analytics API is missing or refuses.
   */
  usageByKeyModelDay(since: Date, until: Date, keyHashes: readonly string[]): Promise<UsageAnswer>;
}
