import { unknownWorkspace } from '../openrouter/errors.ts';
import type { Key, KeyPort } from '../domain/key.ts';
import type { Clock } from '../util/clock.ts';

const GONE_MAX = 10_000;

/**
 * What the operator knows about OpenRouter's keys: refreshed by listing every key (ceil(N/100) calls, never one
 * GET per key) and written through by the operator's own creates, updates and deletes, so a reconcile reads it
 * instead of calling OpenRouter. A refresh never forgets a key the operator wrote after the refresh began.
 */
export class KeyBook {
  private byHash = new Map<string, Key>();
  /** hashes by key name, built when first asked for and kept in step by put/remove (a lookup per new member) */
  private names: Map<string, Set<string>> | undefined;
  private touched = new Map<string, number>();
  private removed = new Map<string, number>();
  /** hashes OpenRouter answered 404 for: a deleted key never comes back, so they are not asked about again */
  private readonly gone = new Set<string>();
  /** names of creates whose outcome is unknown (a 5xx, a cut connection), by when: a refresh settles them */
  private readonly unsure = new Map<string, number>();
  /** when the last complete refresh started; undefined before the first one */
  refreshedFrom: number | undefined;
  /** the workspaces (by id) the last complete refresh listed */
  listedWorkspaces: ReadonlySet<string> = new Set();
  private inflight: Promise<void> | undefined;
  private readonly clock: Clock;

  constructor(clock: Clock) {
    this.clock = clock;
  }

  get(hash: string): Key | undefined {
    return this.byHash.get(hash);
  }

  /** Whether the last complete listing saw any key in the workspace; undefined when it did not list it. */
  holdsKeys(workspaceId: string): boolean | undefined {
    if (!this.listedWorkspaces.has(workspaceId)) return undefined;
    for (const k of this.byHash.values()) if (k.workspaceId === workspaceId) return true;
    return false;
  }

  all(): Key[] {
    return [...this.byHash.values()];
  }

  byName(name: string): Key[] {
    if (!this.names) {
      this.names = new Map();
      for (const k of this.byHash.values()) this.index(k);
    }
    return [...(this.names.get(name) ?? [])].flatMap((h) => {
      const k = this.byHash.get(h);
      return k?.name === name ? [k] : [];
    });
  }

  private index(k: Key): void {
    if (!this.names) return;
    const set = this.names.get(k.name);
    if (set) set.add(k.hash);
    else this.names.set(k.name, new Set([k.hash]));
  }

  private unindex(k: Key | undefined): void {
    const set = k && this.names?.get(k.name);
    if (!k || !set) return;
    set.delete(k.hash);
    if (set.size === 0) this.names?.delete(k.name);
  }

  /** A create under this name may or may not have made a key: the next lookup of it lists first (unsettled). */
  createUnsure(name: string): void {
    this.unsure.set(name, this.clock.now());
  }

  /** Whether a create under this name has an unknown outcome that no refresh since has settled. */
  unsettled(name: string): boolean {
    return this.unsure.has(name);
  }

  get size(): number {
    return this.byHash.size;
  }

  put(key: Key): void {
    this.gone.delete(key.hash);
    this.unindex(this.byHash.get(key.hash));
    this.byHash.set(key.hash, key);
    this.index(key);
    this.touched.set(key.hash, this.clock.now());
    this.removed.delete(key.hash);
  }

  remove(hash: string): void {
    this.unindex(this.byHash.get(hash));
    this.byHash.delete(hash);
    this.removed.set(hash, this.clock.now());
  }

  /** A key OpenRouter said it does not have (404). Bounded: the oldest are forgotten first. */
  markGone(hash: string): void {
    this.remove(hash);
    this.gone.add(hash);
    if (this.gone.size > GONE_MAX) this.gone.delete(this.gone.values().next().value ?? '');
  }

  isGone(hash: string): boolean {
    return this.gone.has(hash);
  }

  /** True when a complete list started after `ms`: a key written before then and absent now is really gone. */
  freshSince(ms: number): boolean {
    return this.refreshedFrom !== undefined && this.refreshedFrom > ms;
  }

  /** Lists every key of the given workspaces; concurrent callers share one refresh. */
  refresh(keys: KeyPort, workspaceIds: readonly (string | undefined)[]): Promise<void> {
    this.inflight ??= this.doRefresh(keys, workspaceIds).finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async doRefresh(keys: KeyPort, workspaceIds: readonly (string | undefined)[]): Promise<void> {
    const started = this.clock.now();
    const next = new Map<string, Key>();
    // undefined (the default workspace) goes first: its keys tell its id, so a policy naming the default
    // workspace explicitly does not make every sync list the same keys twice
    const listed = new Set<string>();
    // (not a sort: Array sorting always moves undefined to the end, whatever the comparator says)
    const named = [...new Set(workspaceIds)].filter((w): w is string => w !== undefined);
    const order = workspaceIds.includes(undefined) ? [undefined, ...named] : named;
    for (const ws of order) {
      if (ws !== undefined && listed.has(ws)) continue;
      try {
        for await (const k of keys.list({ workspaceId: ws })) {
          next.set(k.hash, k);
          if (k.workspaceId) listed.add(k.workspaceId);
        }
      } catch (e) {
        // a workspace a policy left that was deleted since holds no key: it must not stop the listing of all the
        // others (it stays unlisted; the policy lets go of it). Any other failure fails the refresh
        if (ws === undefined || !unknownWorkspace(e)) throw e;
        continue;
      }
      if (ws !== undefined) listed.add(ws);
    }
    for (const [hash, at] of this.touched) {
      if (at >= started && this.byHash.has(hash)) next.set(hash, this.byHash.get(hash)!);
      if (at < started) this.touched.delete(hash);
    }
    for (const [hash, at] of this.removed) {
      if (at >= started) next.delete(hash);
      else this.removed.delete(hash);
    }
    this.byHash = next;
    this.names = undefined;
    for (const [name, at] of this.unsure) if (at < started) this.unsure.delete(name);
    this.refreshedFrom = started;
    this.listedWorkspaces = listed;
  }
}
