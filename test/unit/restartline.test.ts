/** The restart bound: the minute window, and the line restarts over it wait in (order, fairness, never dropped). */
import { describe, expect, it } from 'vitest';
import { RestartLine, type RestartBounds } from '../../src/controller/restartline.ts';
import { MinuteWindow } from '../../src/controller/minutewindow.ts';

const MINUTE = 60_000;

/** A line on a clock the test moves; `calls` lists whom it called, in order. */
function line(bounds: RestartBounds, recent: Record<string, number[]> = {}) {
  let now = Date.parse('2027-03-10T12:00:00Z');
  const calls: string[] = [];
  const l = new RestartLine({ bounds, clock: { now: () => now }, recentRestarts: (ns) => recent[ns ?? '*'] ?? [], onCall: (id) => calls.push(id) });
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

describe('the minute window', () => {
  it('lets its bound through in any 60 s, and frees each a minute after it', () => {
    const w = new MinuteWindow(10);
    for (let i = 0; i < 10; i++) expect(w.take(i * 1_000)).toBe(true);
    expect(w.take(10_000)).toBe(false);
    expect(w.take(59_999), 'a bucket would have refilled by now').toBe(false);
    expect(w.take(MINUTE)).toBe(true);
    expect(w.available(MINUTE)).toBe(0);
    expect(w.available(MINUTE + 1_000)).toBe(1);
    w.give(MINUTE);
    expect(w.available(MINUTE + 1_000), 'the room taken for nothing comes back').toBe(2);
    w.give(123);
    expect(w.available(MINUTE + 1_000), 'giving back what was not taken frees nothing').toBe(2);
    expect(w.available(10 * MINUTE)).toBe(10);
  });

  it('holds what happened "in the future" (a clock stepped back) for a minute from now, never longer', () => {
    const w = new MinuteWindow(10);
    for (let i = 0; i < 10; i++) w.take(10 * MINUTE);
    expect(w.available(0), 'the clock stepped back ten minutes').toBe(0);
    expect(w.available(MINUTE - 1)).toBe(0);
    expect(w.available(MINUTE)).toBe(10);
  });

  it('starts from the events of the last minute, in any order', () => {
    expect(new MinuteWindow(10).available(0)).toBe(10);
    expect(new MinuteWindow(10, [-30_000, -10_000, -59_000]).available(0)).toBe(7);
    expect(new MinuteWindow(10, [-30_000, -10_000, -59_000]).available(30_000), 'two of them out of the window').toBe(9);
    const ahead = new MinuteWindow(2, [5 * MINUTE, 1_000]);
    expect(ahead.available(0), 'events "in the future" count, as now').toBe(0);
    expect(ahead.available(MINUTE)).toBe(2);
  });
});

describe('the restart line', () => {
  it('lets a namespace restart its bound at once, queues the rest, and calls them as the minute of each goes by', () => {
    const t = line({ perNamespace: 10, fleet: 60 });
    const ids = names('a', 25);
    expect(t.ask(...ids.slice(0, 4))).toEqual(ids.slice(0, 4));
    t.advance(6_000);
    expect(t.ask(...ids.slice(4))).toEqual(ids.slice(4, 10));
    expect(t.l.size).toBe(15);
    expect(t.l.ask('a/w012', 'a')).toEqual({ go: false, queuedAt: t.at(), ahead: 2 });
    t.advance(MINUTE - 6_001);
    expect(t.calls, 'no room until a minute after the first restarts').toEqual([]);
    t.advance(1);
    expect(t.calls, 'oldest first, as many as went a minute ago').toEqual(ids.slice(10, 14));
    // a called restart goes when it asks (its room is held for it)
    expect(t.ask(...ids.slice(10, 14))).toEqual(ids.slice(10, 14));
    t.advance(6_000);
    expect(t.calls).toEqual(ids.slice(10, 20));
    expect(t.ask(...ids.slice(14, 20))).toEqual(ids.slice(14, 20));
    t.advance(MINUTE);
    expect(t.calls).toEqual(ids.slice(10));
    expect(t.ask(...ids.slice(20))).toEqual(ids.slice(20));
    expect(t.l.size).toBe(0);
  });

  it('never restarts more than its bound in any 60 s, whatever the order of asking and calling', () => {
    const t = line({ perNamespace: 10, fleet: 60 });
    const ids = names('a', 100);
    const went: number[] = t.ask(...ids).map(() => t.at());
    for (let s = 0; s < 20 * 60; s++) {
      t.advance(1_000);
      for (const id of t.calls.splice(0)) if (t.l.ask(id, 'a').go) went.push(t.at());
    }
    expect(went).toHaveLength(100);
    // in any span shorter than a minute, at most 10; and the line wastes no minute: 100 go in 9 minutes
    for (let i = 0; i + 10 < went.length; i++) expect((went[i + 10] ?? 0) - (went[i] ?? 0)).toBeGreaterThanOrEqual(MINUTE);
    expect((went.at(-1) ?? 0) - (went[0] ?? 0)).toBe(9 * MINUTE);
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
    // the fleet is spent; as its room comes back, turns alternate, though big's waited longer
    t.advance(MINUTE);
    expect(t.calls).toEqual(['small/0', 'big/w006', 'small/1', 'big/w007', 'small/2', 'big/w008']);
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

  it('drops nothing: a restart leaves only when it goes or withdraws, and the room held for it comes back', () => {
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

  it('gives back the room of the restart withdrawn, not of one that went after it', () => {
    const t = line({ perNamespace: 2, fleet: 60 });
    expect(t.ask('a/0', 'a/1', 'a/2', 'a/3')).toEqual(['a/0', 'a/1']);
    t.advance(MINUTE);
    expect(t.calls, 'both called at 60 s').toEqual(['a/2', 'a/3']);
    t.advance(30_000);
    expect(t.ask('a/3')).toEqual(['a/3']);
    t.advance(10_000);
    // a/2 is no longer needed: the room held for it since 60 s comes back, a/3's (taken at 60 s too) stays
    t.l.withdraw('a/2');
    expect(t.ask('a/4')).toEqual(['a/4']);
    expect(t.ask('a/5'), 'a/3 and a/4 within the minute').toEqual([]);
  });

  it('starts its windows from the restarts the workloads record, so a new leader does not restart a second burst', () => {
    const now = Date.parse('2027-03-10T12:00:00Z');
    // the last minute: 7 restarts in namespace a (30 s ago), 57 in the cluster (3 s ago)
    const t = line({ perNamespace: 10, fleet: 60 }, { a: Array.from({ length: 7 }, () => now - 30_000), '*': Array.from({ length: 57 }, () => now - 3_000) });
    expect(t.ask(...names('a', 10))).toHaveLength(3);
    expect(t.ask(...names('b', 10))).toHaveLength(0);
    t.advance(30_000);
    expect(t.calls, 'the cluster is still full').toEqual([]);
    t.advance(MINUTE);
    expect(t.calls).toHaveLength(17);
  });
});
