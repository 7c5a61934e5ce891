import { z } from 'zod';

/**
 * Fault injection for tests. A rule matches OpenRouter routes by id (e.g. "POST /api/v1/keys"; omitted = all)
 * and fires for the next `times` matching requests (omitted = forever), each with `probability` (default 1).
 *
 * kinds: latency (delay, then serve normally), error (a 5xx or other status), rateLimit (429 + Retry-After),
 * cut (drop the connection without answering), commitThenError / commitThenCut (do the work — e.g. create the
 * key — then answer 500 or drop the connection: the crash window a client must survive), malformed (do the work,
 * then answer its status with a body the client cannot trust: see MALFORMED), listShift (for GET /api/v1/keys:
 * a page after the first is served as if `shift` newer keys had been deleted since the page before, so its first
 * `shift` keys are skipped — how an offset-paged listing misses a key that exists; fires on such pages only).
 */

/**
 * How a malformed answer is broken: not JSON at all (an HTML page), cut off half way, empty, every number and
 * boolean turned into a string, every object in `data` emptied, or `data` null.
 */
const MALFORMED = ['notJson', 'truncated', 'empty', 'wrongTypes', 'missingFields', 'nullData'] as const;
export type Malformed = (typeof MALFORMED)[number];
export const FaultRuleSchema = z.object({
  route: z.string().optional(),
  kind: z.enum(['latency', 'error', 'rateLimit', 'cut', 'commitThenError', 'commitThenCut', 'malformed', 'listShift']),
  times: z.int().positive().optional(),
  probability: z.number().min(0).max(1).default(1),
  status: z.int().min(400).max(599).default(500),
  latencyMs: z.int().min(0).max(120_000).default(0),
  retryAfterSeconds: z.int().min(0).max(3600).default(1),
  /** for kind malformed (default notJson) */
  answer: z.enum(MALFORMED).optional(),
  /** for kind listShift: how many keys the page skips (default 1) */
  shift: z.int().min(1).max(100).optional(),
});
export type FaultRule = z.infer<typeof FaultRuleSchema>;

export type FaultAction =
  | { kind: 'none'; latencyMs: number }
  | { kind: 'error'; status: number; latencyMs: number }
  | { kind: 'rateLimit'; retryAfterSeconds: number; latencyMs: number }
  | { kind: 'cut'; latencyMs: number }
  | { kind: 'malformed'; answer: Malformed; latencyMs: number };

interface LiveRule {
  rule: FaultRule;
  remaining: number;
}

export class Faults {
  private rules: LiveRule[] = [];
  private seed: number;

  constructor(seed = 1) {
    this.seed = seed >>> 0;
  }

  set(rules: FaultRule[], seed?: number): void {
    this.rules = rules.map((rule) => ({ rule, remaining: rule.times ?? Number.POSITIVE_INFINITY }));
    if (seed !== undefined) this.seed = seed >>> 0;
  }

  clear(): void {
    this.rules = [];
  }

  list(): FaultRule[] {
    return this.rules.filter((r) => r.remaining > 0).map((r) => r.rule);
  }

  /** mulberry32: deterministic, so a seeded fault schedule replays exactly */
  private random(): number {
    this.seed = (this.seed + 0x6d2b79f5) >>> 0;
    let t = this.seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  private take(routeId: string, kinds: readonly FaultRule['kind'][]): FaultRule | undefined {
    for (const live of this.rules) {
      const { rule } = live;
      if (live.remaining <= 0 || !kinds.includes(rule.kind)) continue;
      if (rule.route !== undefined && rule.route !== routeId) continue;
      if (rule.probability < 1 && this.random() >= rule.probability) continue;
      live.remaining--;
      return rule;
    }
    return undefined;
  }

  /** Decides what happens before the handler runs. Latency rules add up with any failure. */
  before(routeId: string): FaultAction {
    const latency = this.take(routeId, ['latency'])?.latencyMs ?? 0;
    const rule = this.take(routeId, ['error', 'rateLimit', 'cut']);
    if (!rule) return { kind: 'none', latencyMs: latency };
    const latencyMs = latency + rule.latencyMs;
    if (rule.kind === 'error') return { kind: 'error', status: rule.status, latencyMs };
    if (rule.kind === 'rateLimit') return { kind: 'rateLimit', retryAfterSeconds: rule.retryAfterSeconds, latencyMs };
    return { kind: 'cut', latencyMs };
  }

  /**
   * How many keys a list page at `offset` skips: keys deleted between two page requests move every later key
   * forward, so the next page starts that many keys late. The first page (offset 0) never shifts.
   */
  shift(routeId: string, offset: number): number {
    if (offset <= 0) return 0;
    const rule = this.take(routeId, ['listShift']);
    return rule ? (rule.shift ?? 1) : 0;
  }

  /** Decides what happens to the response after the handler committed its change. */
  after(routeId: string): FaultAction {
    const rule = this.take(routeId, ['commitThenError', 'commitThenCut', 'malformed']);
    if (!rule) return { kind: 'none', latencyMs: 0 };
    if (rule.kind === 'malformed') return { kind: 'malformed', answer: rule.answer ?? 'notJson', latencyMs: rule.latencyMs };
    return rule.kind === 'commitThenCut'
      ? { kind: 'cut', latencyMs: rule.latencyMs }
      : { kind: 'error', status: rule.status, latencyMs: rule.latencyMs };
  }
}
