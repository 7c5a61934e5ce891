import { describe, expect, it, vi } from 'vitest';
import { WorkQueue } from '../../src/controller/queue.ts';
import { systemClock } from '../../src/util/clock.ts';

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));
/** plain string items: each its own key */
const codec = { encode: (k: string) => k, decode: (k: string) => k };

/** One worker, a 5 s base backoff; `k` always fails, `busy` holds the worker until gate(). */
function gated() {
  const q = new WorkQueue({ workers: 1, clock: systemClock, codec, baseDelayMs: 5_000, maxDelayMs: 60_000 });
  const runs: string[] = [];
  let open: () => void = () => {};
  q.start(async (key) => {
    runs.push(key);
    if (key === 'busy') await new Promise<void>((r) => { open = r; });
    return key === 'k' ? { retry: true } : {};
  }, () => {});
  return { q, runs, gate: () => open() };
}

describe('WorkQueue', () => {
  it('dedupes, never runs a key twice at once, and reruns a key that changed while running', async () => {
    const q = new WorkQueue({ workers: 4, clock: systemClock, codec });
    const runs: string[] = [];
    let active = 0;
    let maxActiveForA = 0;
    q.start(async (key) => {
      if (key === 'a') maxActiveForA = Math.max(maxActiveForA, ++active);
      runs.push(key);
      await tick(20);
      if (key === 'a') active--;
      return {};
    }, () => {});
    q.add('a');
    q.add('a');
    q.add('b');
    await tick(5);
    q.add('a'); // while running: marked dirty
    q.add('a');
    await tick(100);
    expect(runs.filter((k) => k === 'a')).toHaveLength(2);
    expect(runs.filter((k) => k === 'b')).toHaveLength(1);
    expect(maxActiveForA).toBe(1);
    expect(q.idle()).toBe(true);
    await q.shutdown(100);
  });

  it('backs off exponentially on failure, until it succeeds', async () => {
    // timers and the clock faked together: the gaps are the queue's delays, not the machine's load
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    try {
      const q = new WorkQueue({ workers: 1, clock: systemClock, codec, baseDelayMs: 10, maxDelayMs: 1000 });
      const at: number[] = [];
      q.start(async () => {
        at.push(Date.now());
        return at.length < 4 ? { retry: true } : {};
      }, () => {});
      q.add('k');
      await vi.advanceTimersByTimeAsync(250);
      expect(at).toHaveLength(4);
      expect(at.slice(1).map((t, i) => t - (at[i] ?? 0))).toEqual([10, 20, 40]);
      await q.shutdown(100);
    } finally {
      vi.useRealTimers();
    }
  });

  it('runs a throttled item at once when quiet, then at most once per window however often it is added', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    try {
      const q = new WorkQueue({ workers: 1, clock: systemClock, codec });
      const at: number[] = [];
      const t0 = Date.now();
      q.start(async () => {
        at.push(Date.now() - t0);
        return {};
      }, () => {});
      q.addThrottled('p', 1_000);
      await vi.advanceTimersByTimeAsync(0);
      expect(at).toEqual([0]); // the first add of a quiet item is not delayed
      // a burst: an add every 10 ms for 2.5 s
      for (let i = 0; i < 250; i++) {
        q.addThrottled('p', 1_000);
        await vi.advanceTimersByTimeAsync(10);
      }
      await vi.advanceTimersByTimeAsync(2_000);
      expect(at).toEqual([0, 1_000, 2_000, 3_000]); // once per window, the last add of the burst not lost
      q.addThrottled('p', 1_000); // quiet for a window: at once again
      await vi.advanceTimersByTimeAsync(0);
      expect(at).toHaveLength(5);
      expect(at[4]).toBe(at[3]! + 1_500);
      q.add('p'); // a plain add is never held back
      await vi.advanceTimersByTimeAsync(0);
      expect(at).toHaveLength(6);
      await q.shutdown(100);
    } finally {
      vi.useRealTimers();
    }
  });

  it('does not cut a failing item\'s backoff short when it is added throttled', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    try {
      const q = new WorkQueue({ workers: 1, clock: systemClock, codec, baseDelayMs: 5_000, maxDelayMs: 60_000 });
      const at: number[] = [];
      const t0 = Date.now();
      q.start(async () => {
        at.push(Date.now() - t0);
        return at.length === 1 ? { retry: true } : {};
      }, () => {});
      q.add('p');
      await vi.advanceTimersByTimeAsync(0);
      for (let i = 0; i < 40; i++) {
        q.addThrottled('p', 1_000); // member events while the policy backs off
        await vi.advanceTimersByTimeAsync(100);
      }
      expect(at).toEqual([0]); // 4 s in: still backing off
      await vi.advanceTimersByTimeAsync(1_500);
      expect(at).toEqual([0, 5_000]);
      await q.shutdown(100);
    } finally {
      vi.useRealTimers();
    }
  });

  it('requeues after a delay; the earliest schedule wins', async () => {
    const q = new WorkQueue({ workers: 1, clock: systemClock, codec });
    let runs = 0;
    q.start(async () => {
      runs++;
      return {};
    }, () => {});
    q.addAfter('k', 200);
    q.addAfter('k', 20);
    await tick(60);
    expect(runs).toBe(1);
    expect(q.idle()).toBe(true);
    await q.shutdown(100);
  });
});

describe('WorkQueue under an add() racing the dequeue', () => {
  it('never hands one key to two workers, even when it is re-added in the same tick it is taken', async () => {
    const q = new WorkQueue({ workers: 4, clock: systemClock, codec });
    let active = 0;
    let overlap = 0;
    q.start(async () => {
      active++;
      if (active > 1) overlap++;
      await tick(5);
      active--;
      return {};
    }, () => {});
    for (let i = 0; i < 50; i++) {
      q.add('k');
      await Promise.resolve();
      q.add('k');
      await tick(1);
    }
    await tick(50);
    expect(overlap).toBe(0);
    await q.shutdown(100);
  });
});

describe('WorkQueue delays', () => {
  it('does not fire a delay beyond the timer range at once (an expiry months away)', async () => {
    const q = new WorkQueue({ workers: 1, clock: systemClock, codec });
    let runs = 0;
    q.start(async () => {
      runs++;
      return { requeueAfterMs: 200 * 86_400_000 };
    }, () => {});
    q.add('k');
    await tick(100);
    expect(runs).toBe(1);
    expect(q.idle(1_000)).toBe(true);
    await q.shutdown(100);
  });
});

describe('WorkQueue backoff', () => {
  it('is not cut short by adds that arrive while a key backs off (its own writes, say)', async () => {
    const q = new WorkQueue({ workers: 1, clock: systemClock, codec, baseDelayMs: 200, maxDelayMs: 1000 });
    let runs = 0;
    q.start(async () => {
      runs++;
      return { retry: true };
    }, () => {});
    q.add('k');
    await tick(20);
    for (let i = 0; i < 5; i++) {
      q.add('k');
      await tick(10);
    }
    expect(runs).toBe(1);
    await tick(250);
    expect(runs).toBe(2);
    await q.shutdown(100);
  });

  it('runs an urgent add at once, ahead of the backlog, even while the key backs off; failures still count', async () => {
    const { q, runs, gate } = gated();
    q.add('k');
    await tick(20);
    expect(q.backoffLeft('k')).toBeGreaterThan(4_000);
    q.add('busy');
    await tick(5);
    for (const k of ['b1', 'b2', 'b3']) q.add(k);
    q.add('k', true); // a deletion arrives: skips the 5 s backoff and jumps the three queued keys
    gate();
    await tick(20);
    expect(runs).toEqual(['k', 'busy', 'k', 'b1', 'b2', 'b3']);
    expect(q.backoffLeft('k')).toBeGreaterThan(9_000); // the second failure doubled the delay
    await q.shutdown(100);
  });

  it('releases a key from its backoff behind the queued keys, once, and a new failure backs off further', async () => {
    const { q, runs, gate } = gated();
    q.add('k');
    await tick(20);
    q.add('busy');
    await tick(5);
    q.add('b1');
    q.release('k'); // OpenRouter is back: due now, but behind what was already waiting
    gate();
    await tick(20);
    expect(runs).toEqual(['k', 'busy', 'b1', 'k']);
    expect(q.backoffLeft('k')).toBeGreaterThan(9_000); // its second failure doubled the delay
    await q.shutdown(100);
  });
});
