import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../src/openrouter/limiter.ts';
import { systemClock } from '../../src/util/clock.ts';

describe('RateLimiter', () => {
  it('serves offboarding calls before creations that queued earlier', async () => {
    const limiter = new RateLimiter(50, 1, systemClock);
    const order: string[] = [];
    const take = (name: string, urgent: boolean) => limiter.acquire(urgent ? 'urgent' : 'normal').then(() => order.push(name));
    const all = [take('create-1', false), take('create-2', false), take('create-3', false), take('delete', true), take('disable', true)];
    await Promise.all(all);
    // create-1 took the one token there was; every later turn went to the urgent lane first
    expect(order).toEqual(['create-1', 'delete', 'disable', 'create-2', 'create-3']);
  });

  it('serves each lane in arrival order and never more than the rate allows', async () => {
    const limiter = new RateLimiter(20, 2, systemClock);
    const order: number[] = [];
    await Promise.all(Array.from({ length: 6 }, (_, i) => limiter.acquire().then(() => order.push(i))));
    expect(order).toEqual([0, 1, 2, 3, 4, 5]);
    expect(limiter.waitedMs).toBeGreaterThan(0); // 4 of the 6 had to wait for tokens
  });

  it('holds every lane during a Retry-After pause', async () => {
    const limiter = new RateLimiter(1000, 10, systemClock);
    limiter.pauseFor(150);
    const started = systemClock.now();
    await limiter.acquire('urgent');
    expect(systemClock.now() - started).toBeGreaterThanOrEqual(140);
  });
});
