/**
 * The adaptive rate against a simulated OpenRouter that enforces R calls per second (a token bucket holding one
 * second's worth, 429 with a Retry-After in whole seconds), with a client that always has work: simulated time,
 * one millisecond per step, no timers.
 */
import { describe, expect, it } from 'vitest';
import { AdaptiveRate } from '../../src/openrouter/adaptive.ts';

function simulate(limit: number, ceiling: number, seconds: number, warmupSeconds = 60) {
  const rate = new AdaptiveRate({ ceiling });
  let server = limit;
  let client = 10; // the operator's default burst
  let pausedUntil = 0;
  let ok = 0;
  let refused = 0;
  let okAfterWarmup = 0;
  for (let t = 0; t < seconds * 1000; t++) {
    server = Math.min(limit, server + limit / 1000);
    client = Math.min(10, client + rate.rate / 1000);
    if (t < pausedUntil) continue;
    while (client >= 1) {
      client -= 1;
      if (server >= 1) {
        server -= 1;
        ok++;
        if (t >= warmupSeconds * 1000) okAfterWarmup++;
        rate.succeeded(t);
      } else {
        refused++;
        const retryAfter = Math.ceil((1 - server) / limit) * 1000;
        rate.throttled(t, retryAfter);
        pausedUntil = t + retryAfter;
        client = 0;
        break;
      }
    }
  }
  return { sustained: okAfterWarmup / (seconds - warmupSeconds) / limit, refused: refused / (ok + refused), final: rate.rate };
}

describe('AdaptiveRate', () => {
  it.each([
    [5, 50],
    [20, 50],
    [20, 1000],
    [100, 200],
  ])('at a limit of %d/s from a ceiling of %d/s: at least 90 percent of the limit, at most 1 percent refused', (limit, ceiling) => {
    const r = simulate(limit, ceiling, 900);
    expect(r.sustained).toBeGreaterThanOrEqual(0.9);
    expect(r.sustained).toBeLessThanOrEqual(1.0001);
    expect(r.refused).toBeLessThanOrEqual(0.01);
  });

  it('never goes above the ceiling, and is never cut while OpenRouter does not refuse', () => {
    const r = simulate(50, 20, 120, 0);
    expect(r.refused).toBe(0);
    expect(r.final).toBe(20);
    expect(r.sustained).toBeCloseTo(0.4, 2);
  });

  it('cuts once per burst of 429s, to just under what got through; grows back slowly while 429s are recent, fast once the storm is over', () => {
    const rate = new AdaptiveRate({ ceiling: 100 });
    for (let t = 0; t < 2_000; t += 50) rate.succeeded(t); // 20 per second got through; the cut goes to 95% of it
    rate.throttled(2_000, 1_000);
    expect(rate.rate).toBeCloseTo(19, 1);
    rate.throttled(2_100); // answered calls sent before the cut: no second cut
    expect(rate.rate).toBeCloseTo(19, 1);
    expect({ throttles: rate.throttles, cuts: rate.cuts }).toEqual({ throttles: 2, cuts: 1 });
    // settled after 2 s; then +0.3% a second while the last 429 is under 10 s old: 5 s later about 1.5% more
    rate.succeeded(4_000);
    rate.succeeded(9_000);
    expect(rate.rate).toBeCloseTo(19 * 1.015, 1);
    // 10 s without a 429: the storm is over, and the rate goes back fast to where it found it, less a tenth (90)
    for (let t = 10_000; t <= 30_000; t += 500) rate.succeeded(t);
    expect(rate.rate).toBeGreaterThanOrEqual(90);
    expect(rate.rate).toBeLessThan(95);
    // ...from where on it probes upwards slowly again: +0.3% a second
    const at30 = rate.rate;
    rate.succeeded(40_000);
    expect(rate.rate / at30).toBeCloseTo(1.03, 2);
  });

  it('grows back fast while nothing waits for it: a lone 429 in a quiet hour does not slow the next storm', () => {
    const rate = new AdaptiveRate({ ceiling: 100 });
    rate.succeeded(0, false);
    rate.throttled(1_000); // one call got through in the window: the cut goes to 0.5 a second
    expect(rate.rate).toBeLessThan(1);
    for (let t = 3_000; t <= 120_000; t += 1_000) rate.succeeded(t, false);
    expect(rate.rate).toBe(100);
    // under load it waits for 10 s without a 429 (the storm may not be over), then climbs to 90% of where it was
    const loaded = new AdaptiveRate({ ceiling: 100 });
    loaded.succeeded(0, true);
    loaded.throttled(1_000);
    for (let t = 3_000; t <= 11_000; t += 1_000) loaded.succeeded(t, true);
    expect(loaded.rate).toBeLessThan(1);
    for (let t = 12_000; t <= 40_000; t += 1_000) loaded.succeeded(t, true);
    expect(loaded.rate).toBeGreaterThanOrEqual(90);
  });

  it('after a long storm of random 429s, whose 429s grow sparse as the rate falls, climbs back within a minute', () => {
    const rate = new AdaptiveRate({ ceiling: 100 });
    let seed = 1;
    const rnd = () => (seed = (seed * 16_807) % 2_147_483_647) / 2_147_483_647;
    let next = 0;
    const at: Record<number, number> = {};
    for (let t = 0; t <= 180_000; t += 10) {
      if (t >= next) {
        const storm = t > 10_000 && t < 70_000; // 30% of calls refused, whatever the rate
        if (storm && rnd() < 0.3) rate.throttled(t, 1_000);
        else rate.succeeded(t, true);
        next = t + 1_000 / rate.rate;
      }
      if (t % 10_000 === 0) at[t / 1_000] = rate.rate;
    }
    expect(at[70]).toBeLessThan(2); // the storm brought it down
    expect(at[130]).toBeGreaterThan(50); // a minute after it, back above half the rate it had
  });

  it('keeps a floor, whatever OpenRouter says', () => {
    const rate = new AdaptiveRate({ ceiling: 10, floor: 1 });
    for (let i = 0; i < 50; i++) rate.throttled(i * 3_000);
    expect(rate.rate).toBe(1);
  });
});
