/**
 * The restart line: the bound on workload restarts, and the order in which restarts over it wait. A restart counts
 * in its namespace's window and in the fleet's (each allows its bound in any 60 seconds, minutewindow.ts). One
 * that finds room in both, with nobody of its namespace waiting, goes at once; any other waits in line and is
 * called (onCall, its room held for it) when its turn comes. Within a
 * namespace the oldest goes first, by when it was queued (the workload carries that time, so the order survives
 * an operator restart or a leader change); across namespaces turns go round-robin, the namespace served longest ago
 * first, so one team's wave does not hold up another team's restart. Nothing is dropped: a restart leaves the line
 * when it goes, or when it no longer needs to (withdraw). Runs on the operator's clock; pump() moves the line, and
 * is called whenever time may have freed room.
 */
import type { Clock } from '../util/clock.ts';
import { MinuteWindow } from './minutewindow.ts';

export interface RestartBounds {
  /** restarts in any minute in one namespace */
  perNamespace: number;
  /** restarts in any minute in the whole cluster (of the namespaces this operator manages) */
  fleet: number;
}

/**
 * Within a default 10-minute overlap, 100 workloads of one namespace and 600 of the cluster restart before the
 * previous key is disabled; a rotation restarting up to 10 workloads in a namespace never waits.
 */
export const DEFAULT_RESTART_BOUNDS: RestartBounds = { perNamespace: 10, fleet: 60 };

/** how often the operator pumps the line: room in a window comes back a minute after each restart */
export const RESTART_PUMP_MS = 1_000;

/** go: restart now. Otherwise it waits: since when, and behind how many restarts of its namespace. */
export type Turn = { go: true } | { go: false; queuedAt: number; ahead: number };

interface Waiter {
  id: string;
  namespace: string;
  queuedAt: number;
}

interface Namespace {
  window: MinuteWindow;
  /** oldest first */
  waiting: Waiter[];
  /** when it was last served, as a serial number (0: never) */
  served: number;
}

export interface RestartLineOptions {
  bounds: RestartBounds;
  clock: Clock;
  /** when the restarts the workloads record happened (of a namespace, or anywhere): a fresh window starts with them */
  recentRestarts: (namespace?: string) => number[];
  /** a waiter's turn has come: its room is held for it until it asks again */
  onCall: (id: string) => void;
}

export class RestartLine {
  private readonly o: RestartLineOptions;
  private fleet: MinuteWindow | undefined;
  private readonly namespaces = new Map<string, Namespace>();
  private readonly waiting = new Map<string, Waiter>();
  /** called: their namespace, and when room in both windows was taken for them */
  private readonly called = new Map<string, { namespace: string; at: number }>();
  private serial = 0;

  constructor(o: RestartLineOptions) {
    this.o = o;
  }

  get bounds(): RestartBounds {
    return this.o.bounds;
  }

  /** Restarts waiting or called, not yet gone. */
  get size(): number {
    return this.waiting.size + this.called.size;
  }

  /**
   * A restart asks for its turn: `id` names the workload, `queuedAt` is when it was queued before (the time the
   * workload carries), if it was. Called or first in an open line: go. Otherwise it waits for its call.
   */
  ask(id: string, namespace: string, queuedAt?: number): Turn {
    if (this.called.delete(id)) return { go: true };
    const w = this.waiting.get(id) ?? this.enter({ id, namespace, queuedAt: queuedAt ?? this.o.clock.now() });
    this.pump(id);
    if (this.called.delete(id)) return { go: true };
    return { go: false, queuedAt: w.queuedAt, ahead: this.namespace(namespace).waiting.indexOf(w) };
  }

  private enter(w: Waiter): Waiter {
    this.waiting.set(w.id, w);
    const line = this.namespace(w.namespace).waiting;
    const at = line.findIndex((x) => before(w, x));
    line.splice(at < 0 ? line.length : at, 0, w);
    return w;
  }

  /** The restart is no longer needed (or its workload is gone): it leaves the line; room held for it comes back. */
  withdraw(id: string): void {
    const w = this.waiting.get(id);
    if (w) {
      this.waiting.delete(id);
      const ns = this.namespace(w.namespace);
      ns.waiting.splice(ns.waiting.indexOf(w), 1);
      return;
    }
    const held = this.called.get(id);
    if (held === undefined) return;
    this.called.delete(id);
    this.fleetWindow().give(held.at);
    this.namespace(held.namespace).window.give(held.at);
    this.pump();
  }

  /** Calls every waiter whose turn has come (but `except`, which is asking itself). */
  pump(except?: string): void {
    const now = this.o.clock.now();
    const calls: string[] = [];
    while (this.waiting.size > 0 && this.fleetWindow().available(now) >= 1) {
      const next = this.next(now);
      if (!next) break;
      const [name, ns, w] = next;
      this.fleetWindow().take(now);
      ns.window.take(now);
      ns.served = ++this.serial;
      ns.waiting.shift();
      this.waiting.delete(w.id);
      this.called.set(w.id, { namespace: name, at: now });
      if (w.id !== except) calls.push(w.id);
    }
    for (const id of calls) this.o.onCall(id);
  }

  /** Whose turn it is: the oldest of the namespace served longest ago, of those waiting with room. */
  private next(now: number): [string, Namespace, Waiter] | undefined {
    let best: [string, Namespace, Waiter] | undefined;
    for (const [name, ns] of this.namespaces) {
      const head = ns.waiting[0];
      if (!head || ns.window.available(now) < 1) continue;
      if (!best || ns.served < best[1].served || (ns.served === best[1].served && before(head, best[2]))) best = [name, ns, head];
    }
    return best;
  }

  private namespace(name: string): Namespace {
    let ns = this.namespaces.get(name);
    if (!ns) {
      ns = { window: new MinuteWindow(this.o.bounds.perNamespace, this.o.recentRestarts(name)), waiting: [], served: 0 };
      this.namespaces.set(name, ns);
    }
    return ns;
  }

  private fleetWindow(): MinuteWindow {
    this.fleet ??= new MinuteWindow(this.o.bounds.fleet, this.o.recentRestarts());
    return this.fleet;
  }
}

/** Oldest first; a tie (queued in the same instant) by name, so every replica orders alike. */
function before(a: Waiter, b: Waiter): boolean {
  return a.queuedAt < b.queuedAt || (a.queuedAt === b.queuedAt && a.id < b.id);
}
