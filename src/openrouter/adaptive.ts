/**
 * Pure: the call rate the operator allows itself, found from OpenRouter's answers instead of fixed. It starts at
 * the configured ceiling; a 429 cuts it to just under what actually got through in the last seconds (or by a tenth,
 * whichever is lower), once per burst of 429s. Every answer that is not a 429 lets it grow: slowly (0.3% a second)
 * while calls queue for it, so the probe back to the limit refuses only a call or two every minute or so; fast
 * (10% a second) while they do not, since then the rate is not what holds anything back, and a lone 429 in a
 * quiet hour must not leave the next storm crawling. After a storm of 429s (10 s and 10 answers without one), it
 * climbs back fast (25% a second) to just under where the storm found it: a storm's 429s, sent while retries and
 * backoff kept the rate low, measure the storm, not OpenRouter's limit. A 429 during that climb is a real limit:
 * the climb ends there. Under load it settles at about 95% of OpenRouter's limit.
 */
export interface AdaptiveRateOptions {
  /** calls per second never exceeded (--rate-limit-per-second) */
  ceiling: number;
  /** calls per second never gone below, whatever OpenRouter says */
  floor?: number;
}

const GROWTH_PER_SECOND = 0.003;
const IDLE_GROWTH_PER_SECOND = 0.1;
const CUT = 0.9;
const RECOVERY_GROWTH_PER_SECOND = 0.25;
/** this long, and this many answers, without a 429 end a storm */
const QUIET_MS = 10_000;
const QUIET_ANSWERS = 10;
/** what got through is measured over this window */
const WINDOW_MS = 2_000;
/** 429s within this long after a cut answer calls sent before it: they do not cut again */
const SETTLE_MS = 2_000;

export class AdaptiveRate {
  private current: number;
  private readonly ceiling: number;
  private readonly floor: number;
  private lastGrowth: number | undefined;
  private settledAt = Number.NEGATIVE_INFINITY;
  private readonly served: number[] = [];
  private lastThrottle = Number.NEGATIVE_INFINITY;
  /** where the last storm found the rate (less a cut): regained fast once the storm is over */
  private recoverTo = 0;
  private answersSinceThrottle = 0;
  private climbing = false;
  /** 429s seen, and cuts made */
  throttles = 0;
  cuts = 0;

  constructor(o: AdaptiveRateOptions) {
    this.ceiling = o.ceiling;
    this.floor = Math.min(o.floor ?? 0.2, o.ceiling);
    this.current = o.ceiling;
  }

  /** Calls per second allowed now. */
  get rate(): number {
    return this.current;
  }

  /**
   * An answer that was not a 429 (errors included: they say nothing about the rate). `saturated`: calls were
   * waiting for the rate when it was sent.
   */
  succeeded(now: number, saturated = true): void {
    this.served.push(now);
    while (this.served.length > 0 && (this.served[0] ?? now) < now - WINDOW_MS) this.served.shift();
    if (now < this.settledAt) {
      this.lastGrowth = now;
      return;
    }
    const since = this.lastGrowth ?? now;
    this.lastGrowth = now;
    this.answersSinceThrottle++;
    const recovering = now - this.lastThrottle > QUIET_MS && this.answersSinceThrottle >= QUIET_ANSWERS && this.current < this.recoverTo;
    this.climbing ||= recovering;
    const growth = !saturated ? IDLE_GROWTH_PER_SECOND : recovering ? RECOVERY_GROWTH_PER_SECOND : GROWTH_PER_SECOND;
    const grown = this.current * (1 + growth * Math.max(0, now - since) / 1000);
    this.current = Math.min(this.ceiling, recovering ? Math.min(grown, this.recoverTo) : grown);
  }

  /** A 429: cut once per burst, to just under what got through in the last seconds. */
  throttled(now: number, retryAfterMs = 0): void {
    this.throttles++;
    this.answersSinceThrottle = 0;
    this.lastThrottle = now;
    if (now < this.settledAt) return;
    // a new storm starts once the last one's climb is over (or a 429 ended it: that rate is OpenRouter's limit)
    if (this.current > this.recoverTo || this.climbing) this.recoverTo = this.current * CUT;
    this.climbing = false;
    while (this.served.length > 0 && (this.served[0] ?? now) < now - WINDOW_MS) this.served.shift();
    const through = this.served.length / (WINDOW_MS / 1000);
    const measured = through > 0 ? through * 0.95 : this.current * CUT;
    this.current = Math.max(this.floor, Math.min(this.current * CUT, measured));
    this.cuts++;
    this.settledAt = now + Math.max(SETTLE_MS, retryAfterMs);
    this.lastGrowth = this.settledAt;
  }
}
