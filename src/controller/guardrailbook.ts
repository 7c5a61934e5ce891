import { unknownWorkspace } from '../openrouter/errors.ts';
import type { Guardrail, GuardrailPort, GuardrailRules } from '../domain/guardrail.ts';

/**
 * What the operator knows about its own guardrails and which keys they hold: refreshed with the key sync (one list
 * per workspace, then one assignment list per 100 keys of each guardrail), written through by the operator's own
 * calls. Writes made while a refresh runs are replayed onto its result, so a refresh never forgets them.
 */
export class GuardrailBook {
  private byId = new Map<string, Guardrail>();
  private keysOf = new Map<string, Set<string>>();
  private guardrailOf = new Map<string, string>();
  private replay: ((b: GuardrailBook) => void)[] | undefined;
  /** what this process last applied to each guardrail: fresher than a status the cache may not show yet */
  private applied = new Map<string, { fingerprint: string; reported: GuardrailRules }>();
  private inflight: Promise<void> | undefined;
  /** by name, the guardrail this process last created or read (byName prefers it) */
  private readonly latest = new Map<string, string>();
  /** the last complete refresh has run */
  refreshed = false;

  /**
   * Our guardrails by name. When OpenRouter holds several of one name (a create retried, or a policy's guardrail
   * moving to another workspace), the one this process last created or read, else the first listed: a key assigned
   * meanwhile goes to the guardrail that stays.
   */
  byName(name: string): Guardrail | undefined {
    const latest = this.byId.get(this.latest.get(name) ?? '');
    if (latest) return latest;
    for (const g of this.byId.values()) if (g.name === name) return g;
    return undefined;
  }

  /** Every guardrail of that name (more than one only after a create whose answer was lost). */
  allNamed(name: string): Guardrail[] {
    return [...this.byId.values()].filter((g) => g.name === name);
  }

  /** Every guardrail of ours, as last listed or written. */
  all(): Guardrail[] {
    return [...this.byId.values()];
  }

  get(id: string): Guardrail | undefined {
    return this.byId.get(id);
  }

  /** The guardrail (of ours) a key is assigned to, as last listed or written. */
  guardrailOfKey(hash: string): string | undefined {
    return this.guardrailOf.get(hash);
  }

  assignedKeys(id: string): ReadonlySet<string> {
    return this.keysOf.get(id) ?? new Set();
  }

  put(g: Guardrail): void {
    this.latest.set(g.name, g.id);
    this.write((b) => {
      b.byId.set(g.id, g);
      if (!b.keysOf.has(g.id)) b.keysOf.set(g.id, new Set());
    });
  }

  /** Records a write of ours: the spec's fingerprint and the rules OpenRouter answered with. */
  markApplied(id: string, fingerprint: string, reported: GuardrailRules): void {
    this.applied.set(id, { fingerprint, reported });
  }

  lastApplied(id: string): { fingerprint: string; reported: GuardrailRules } | undefined {
    return this.applied.get(id);
  }

  remove(id: string): void {
    this.applied.delete(id);
    this.write((b) => {
      b.byId.delete(id);
      for (const h of b.keysOf.get(id) ?? []) if (b.guardrailOf.get(h) === id) b.guardrailOf.delete(h);
      b.keysOf.delete(id);
    });
  }

  /** A key holds at most one guardrail: assigning moves it. */
  assigned(id: string, hashes: readonly string[]): void {
    this.write((b) => {
      for (const h of hashes) {
        const was = b.guardrailOf.get(h);
        if (was !== undefined) b.keysOf.get(was)?.delete(h);
        b.guardrailOf.set(h, id);
        const set = b.keysOf.get(id) ?? new Set<string>();
        set.add(h);
        b.keysOf.set(id, set);
      }
    });
  }

  unassigned(id: string, hashes: readonly string[]): void {
    this.write((b) => {
      for (const h of hashes) {
        b.keysOf.get(id)?.delete(h);
        if (b.guardrailOf.get(h) === id) b.guardrailOf.delete(h);
      }
    });
  }

  /** Lists our guardrails (by `ours(name)`) in each workspace and the keys each holds; callers share one refresh. */
  refresh(port: GuardrailPort, workspaceIds: readonly (string | undefined)[], ours: (name: string) => boolean): Promise<void> {
    this.inflight ??= this.doRefresh(port, workspaceIds, ours).finally(() => {
      this.inflight = undefined;
      this.replay = undefined;
    });
    return this.inflight;
  }

  private write(change: (b: GuardrailBook) => void): void {
    change(this);
    this.replay?.push(change);
  }

  private async doRefresh(port: GuardrailPort, workspaceIds: readonly (string | undefined)[], ours: (name: string) => boolean): Promise<void> {
    this.replay = [];
    const next = new GuardrailBook();
    const seen = new Set<string>();
    for (const ws of new Set(workspaceIds)) {
      try {
        for await (const g of port.list(ws)) {
          // the default workspace may also be named by its id: each guardrail once
          if (!ours(g.name) || seen.has(g.id)) continue;
          seen.add(g.id);
          next.byId.set(g.id, g);
          next.keysOf.set(g.id, new Set());
        }
      } catch (e) {
        // a named workspace OpenRouter does not know holds no guardrail of ours: the others are still listed
        if (ws === undefined || !unknownWorkspace(e)) throw e;
      }
    }
    for (const id of next.byId.keys()) {
      for await (const h of port.assignedKeys(id)) {
        next.keysOf.get(id)?.add(h);
        next.guardrailOf.set(h, id);
      }
    }
    for (const change of this.replay) change(next);
    this.byId = next.byId;
    this.keysOf = next.keysOf;
    this.guardrailOf = next.guardrailOf;
    this.refreshed = true;
  }
}
