/** The restart bound: the token bucket, and the line restarts over it wait in (order, fairness, never dropped). */
import { describe, expect, it } from 'vitest';
import { RestartLine, type RestartBounds } from '../../src/controller/restartline.ts';
import { TokenBucket } from '../../src/controller/tokenbucket.ts';

const MINUTE = 60_000;

/** A line on a clock the test moves; `calls` lists whom it called, in order. */
function line(bounds: RestartBounds, last: Record<string, number> = {}) {
  let now = Date.parse('2027-03-10T12:00:00Z');
  const calls: string[] = [];
  const l = new RestartLine({ bounds, clock: { now: () => now }, lastRestart: (ns) => last[ns ?? '*'], onCall: (id) => calls.push(id) });
  return {
    l, calls,
    advance: (ms: number) => {
      now += ms;
      l.pump();
    },
    at: () => now,
    /** asks for each id (namespace/name) in turn; returns those that may go now */
    ask: (...ids: string[]) => ids.filter((id) => l.ask(id, id.split('/')[0] ?? '').go),
  };
}
const names = (ns: string, n: number) => Array.from({ length: n }, (_, i) => `${ns}/w${String(i).padStart(3, '0')}`);

describe('the token bucket', () => {
  it('holds a minute of tokens at most, refills at its rate, and refills nothing when the clock steps back', () => {
    const b = new TokenBucket(10, 0);
    for (let i = 0; i < 10; i++) expect(b.take(0)).toBe(true);
    expect(b.take(0)).toBe(false);
    expect(b.take(5_999)).toBe(false);
    expect(b.take(6_000)).toBe(true);
    expect(b.available(-MINUTE)).toBe(0);
    expect(b.available(6_000 + 10 * MINUTE)).toBe(10);
    b.give(6_000 + 10 * MINUTE);
    expect(b.available(6_000 + 10 * MINUTE), 'giving back never overfills').toBe(10);
  });

  it('starts, after a restart `sinceLast` ago, as if that restart had emptied it', () => {
    expect(TokenBucket.after(10, 0, undefined).available(0)).toBe(10);
    expect(TokenBucket.after(10, 0, 30_000).available(0)).toBe(5);
    expect(TokenBucket.after(10, 0, 10 * MINUTE).available(0)).toBe(10);
    expect(TokenBucket.after(10, 0, -1_000).available(0), 'a restart in the future: empty').toBe(0);
  });
});

describe('the restart line', () => {
  it('lets a namespace restart its bound at once, queues the rest, and calls one each time a token comes back', () => {
    const t = line({ perNamespace: 10, fleet: 60 });
    const ids = names('a', 25);
    expect(t.ask(...ids)).toEqual(ids.slice(0, 10));
    expect(t.l.size).toBe(15);
    expect(t.l.ask('a/w012', 'a')).toEqual({ go: false, queuedAt: t.at(), ahead: 2 });
    t.advance(5_999);
    expect(t.calls).toEqual([]);
    t.advance(1);
    expect(t.calls, 'oldest first').toEqual(['a/w010']);
    t.advance(MINUTE);
    expect(t.calls, 'a minute later, a minute of tokens').toEqual(ids.slice(10, 21));
    // a called restart goes when it asks (its token is held for it)
    expect(t.ask(...ids.slice(10, 21))).toEqual(ids.slice(10, 21));
    t.advance(MINUTE);
    expect(t.calls).toEqual(ids.slice(10));
    expect(t.ask(...ids.slice(21))).toEqual(ids.slice(21));
    expect(t.l.size).toBe(0);
  });

  it('never restarts more than a minute of tokens at once, nor more than the bound a minute after that', () => {
    const t = line({ perNamespace: 10, fleet: 60 });
    const ids = names('a', 100);
    const went: number[] = t.ask(...ids).map(() => t.at());
    for (let s = 0; s < 20 * 60; s++) {
      t.advance(1_000);
      for (const id of t.calls.splice(0)) if (t.l.ask(id, 'a').go) went.push(t.at());
    }
    expect(went).toHaveLength(100);
    // over any span, at most the bucket (10) plus what refilled in it: 10 a minute
    for (let i = 0; i < went.length; i++) {
      for (let j = i; j < went.length; j++) expect(j - i + 1).toBeLessThanOrEqual(10 + ((went[j] ?? 0) - (went[i] ?? 0)) / 6_000 + 1e-9);
    }
  });

  it('keeps the order the workloads carry: an older queued time goes first, whatever the order of asking', () => {
    const t = line({ perNamespace: 1, fleet: 60 });
    expect(t.ask('a/first')).toEqual(['a/first']);
    const at = t.at();
    // after an operator restart the line is rebuilt from the restart-queued annotations, in any order
    t.l.ask('a/late', 'a', at - 1_000);
    t.l.ask('a/early', 'a', at - 60_000);
    t.l.ask('a/new', 'a');
    t.l.ask('a/mid', 'a', at - 30_000);
    for (let i = 0; i < 4; i++) t.advance(MINUTE);
    expect(t.calls).toEqual(['a/early', 'a/mid', 'a/late', 'a/new']);
  });

  it('shares the fleet round-robin: a wave in one namespace does not hold up another namespace', () => {
    const t = line({ perNamespace: 60, fleet: 6 });
    expect(t.ask(...names('big', 50))).toHaveLength(6);
    expect(t.ask('small/0', 'small/1', 'small/2')).toEqual([]);
    // the fleet is spent; as its tokens come back (one every 10 s), turns alternate, though big's waited longer
    for (let i = 0; i < 7; i++) t.advance(10_000);
    expect(t.calls).toEqual(['small/0', 'big/w006', 'small/1', 'big/w007', 'small/2', 'big/w008', 'big/w009']);
  });

  it('serves the namespace served longest ago first, and among those never served the one waiting longest', () => {
    const t = line({ perNamespace: 10, fleet: 1 });
    expect(t.ask('a/0')).toEqual(['a/0']);
    t.l.ask('a/1', 'a');
    t.advance(1);
    t.l.ask('c/0', 'c');
    t.advance(1);
    t.l.ask('b/0', 'b');
    t.l.ask('b/1', 'b');
    t.l.ask('c/1', 'c');
    for (let i = 0; i < 5; i++) t.advance(MINUTE);
    expect(t.calls).toEqual(['c/0', 'b/0', 'a/1', 'c/1', 'b/1']);
  });

  it('drops nothing: a restart leaves only when it goes or withdraws, and a token held for it comes back', () => {
    const t = line({ perNamespace: 1, fleet: 60 });
    expect(t.ask('a/0', 'a/1', 'a/2', 'a/3')).toEqual(['a/0']);
    t.l.withdraw('a/2');
    expect(t.l.size).toBe(2);
    t.advance(MINUTE);
    expect(t.calls).toEqual(['a/1']);
    // a called restart that is no longer needed gives its token to the next
    t.l.withdraw('a/1');
    expect(t.calls).toEqual(['a/1', 'a/3']);
    expect(t.l.ask('a/3', 'a')).toEqual({ go: true });
    expect(t.l.size).toBe(0);
    t.l.withdraw('a/never-queued');
    expect(t.l.size).toBe(0);
  });

  it('starts its buckets from the restarts the workloads record, so a new leader does not restart a second burst', () => {
    const now = Date.parse('2027-03-10T12:00:00Z');
    // the last restart in namespace a was 30 s ago (its bucket is half full), anywhere 3 s ago (3 fleet tokens)
    const t = line({ perNamespace: 10, fleet: 60 }, { a: now - 30_000, '*': now - 3_000 });
    expect(t.ask(...names('a', 10))).toHaveLength(3);
    expect(t.ask(...names('b', 10))).toHaveLength(0);
    t.advance(MINUTE);
    expect(t.calls).toHaveLength(17);
  });
});
