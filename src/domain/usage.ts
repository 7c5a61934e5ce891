/** Spend per key, model and UTC day, as OpenRouter's analytics reports it, and the port it is read through. */

export interface UsageRow {
  /** the api_key_id value as OpenRouter shows it: the key's name (its human-readable label), or its hash; null: unset */
  key: string | null;
  /** the model's permaslug (dated id); null: unset */
  model: string | null;
  /** UTC day, YYYY-MM-DD */
  date: string;
  /** total_usage: what the key spent, BYOK inference included */
  usd: number;
  /** byok_usage: the part of usd paid with the team's own provider keys */
  byokUsd: number;
  requests: number;
}

export interface UsageAnswer {
  rows: UsageRow[];
  /** OpenRouter left rows out (its row limit), even after splitting the query by key */
  truncated: boolean;
  /** how many queries the answer took */
  calls: number;
  /** rows that could not be read (a value of the wrong shape): skipped, the rest kept */
  skipped: number;
  /** why the first skipped row was refused (field and reason, never a value) */
  skippedWhy: string | undefined;
  /** key hashes OpenRouter could not resolve (deleted keys): their rows are gone from analytics for good */
  unresolved: string[];
}

export interface AnalyticsPort {
  /**
   * Spend and requests per key, model and day from `since` to `until`. One query for the whole account when it
   * fits OpenRouter's row limit; otherwise batches of `keyHashes` (the keys whose rows matter: 100 at first, grown
   * to fill half an answer), split further while an answer is still cut, and split by time while OpenRouter
   * answers 408. Fails with an OpenRouterError when the analytics API is missing or refuses. `full`: every kept
   * day is asked again, so what past answers taught (hashes that no longer resolve, a time range that timed out) is
   * tried afresh.
   */
  usageByKeyModelDay(since: Date, until: Date, keyHashes: readonly string[], full?: boolean): Promise<UsageAnswer>;
}
