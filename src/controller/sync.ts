/**
 * The key sync: once per interval, every key of every workspace in use is listed (ceil(N/100) calls), orphans are
 * revoked, this cluster's guardrails and the keys they hold are listed (one call per workspace, and one per 100
 * keys of each), and each member and policy is enqueued to compare its status with what was listed (usage, drift,
 * deletion).
 */
import { BookedKeys } from './booked.ts';
import { POLICY_DEFAULTS, resolvePolicy } from '../api/policy.ts';
import type { Logger } from 'pino';
import type { KeyPolicy } from '../api/schema.ts';
import type { Cluster } from '../kube/cluster.ts';
import type { Clock } from '../util/clock.ts';
import { parseDuration } from '../util/duration.ts';
import { errorMessage } from '../util/errors.ts';
import type { Caches } from './caches.ts';
import type { Recorder } from './events.ts';
import type { KeyBook } from './keybook.ts';
import type { KeyPort } from '../domain/key.ts';
import type { GuardrailPort } from '../domain/guardrail.ts';
import type { GuardrailBook } from './guardrailbook.ts';
import type { AnalyticsPort } from '../domain/usage.ts';
import { USAGE_DAYS_MAX } from '../api/schema.ts';
import { parseKeyName } from './keyname.ts';
import type { UsageBook } from './usagebook.ts';
import { guardrailPrefix } from './policy/rules.ts';
import { revokeOrphans } from './sweep.ts';
import { WorkspacePending } from '../domain/errors.ts';

/**
 * How long a sync waits for the usage read before letting members compare what was listed: analytics has its own
 * quota and may wait for its window to reset; the rest of the read lands with a second pass when it is done.
 */
const USAGE_WAIT_MS = 15_000;

export interface KeySyncDeps {
  book: KeyBook;
  keys: KeyPort;
  guardrailBook: GuardrailBook;
  guardrails: GuardrailPort;
  analytics: AnalyticsPort;
  usageBook: UsageBook;
  caches: Caches;
  cluster: Cluster;
  recorder: Recorder;
  clock: Clock;
  log: Logger;
  clusterId: () => string;
  /** --min-sync-interval: the floor under every policy's usage.syncInterval */
  minSyncInterval: string;
  orphanGrace: string;
  /** after each sync: enqueue every member and policy */
  listed: () => void;
  /** rows of a usage read skipped as unreadable, for the metrics */
  metricsSkipped?: (rows: number) => void;
}

/** How long a workspace that could not be resolved is not asked about again. */
const RESOLVE_RETRY_MS = 60_000;

export class KeySync {
  private readonly d: KeySyncDeps;
  private readonly workspaceIds = new Map<string, string>();
  /** workspaces that could not be resolved, and when: every member pass of their policy would ask otherwise */
  private readonly unresolved = new Map<string, { at: number; error: unknown; warned?: boolean }>();
  private last = 0;
  private firstRun: Promise<void> | undefined;
  private usageRun: Promise<boolean> | undefined;
  private skippedNoted: string | undefined;
  count = 0;

  constructor(d: KeySyncDeps) {
    this.d = d;
  }

  /** The shortest usage.syncInterval of any policy decides how often keys are listed. */
  intervalMs(): number {
    const floor = parseDuration(this.d.minSyncInterval);
    let ms = Number.POSITIVE_INFINITY;
    for (const p of this.d.caches.allPolicies()) ms = Math.min(ms, resolvePolicy(p).syncIntervalMs);
    // with no policy, as often as a policy that says nothing
    return Math.max(floor, Number.isFinite(ms) ? ms : POLICY_DEFAULTS.syncIntervalMs);
  }

  async maybeSync(): Promise<void> {
    if (this.d.clock.now() - this.last < this.intervalMs()) return;
    await this.sync();
  }

  /** The first sync, shared by every reconcile waiting for it (not one listing, sweep and analytics read each). */
  first(): Promise<void> {
    this.firstRun ??= this.sync().finally(() => {
      this.firstRun = undefined;
    });
    return this.firstRun;
  }

  /** Lists every key once, revokes orphans, and lets each member compare its status with what was listed. */
  async sync(): Promise<void> {
    this.last = this.d.clock.now();
    await this.refreshBook();
    this.count++;
    const d = this.d;
    await revokeOrphans({
      book: d.book, keys: new BookedKeys(d.keys, d.book), cluster: d.cluster, recorder: d.recorder, log: d.log, clusterId: d.clusterId(),
      manages: (ns) => d.caches.manages(ns), cached: (ns, name) => d.caches.members.get(name, ns), now: d.clock.now(), graceMs: parseDuration(d.orphanGrace),
    });
    try {
      await this.refreshGuardrails();
    } catch (e) {
      // usage and offboarding must not wait on guardrails; the policies retry them on their own
      d.log.warn({ err: errorMessage(e) }, 'could not list guardrails');
    }
    // per-model usage is a report: budgets and offboarding never wait on it for long
    const usage = this.readUsage();
    let timer: NodeJS.Timeout | undefined;
    const inTime = await Promise.race([usage.then(() => true as const), new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), USAGE_WAIT_MS);
      timer.unref();
    })]);
    clearTimeout(timer);
    d.listed();
    // a read that outlasted the wait: the members compare again only if it changed what they show
    if (!inTime) void usage.then((changed) => changed && d.listed());
  }

  /** One usage read at a time: a sync that finds one still running shares it. Resolves to whether it changed rows. */
  private readUsage(): Promise<boolean> {
    this.usageRun ??= this.refreshUsage().catch((e: unknown) => {
      // the last read stays shown
      this.d.log.warn({ err: errorMessage(e) }, 'could not read usage analytics');
      return false;
    }).finally(() => {
      this.usageRun = undefined;
    });
    return this.usageRun;
  }

  /** One analytics read for every member: spend and requests per key, model and day over the days status keeps. */
  async refreshUsage(): Promise<boolean> {
    const d = this.d;
    const cluster = d.clusterId();
    const byHash = new Map<string, string>();
    for (const m of d.caches.allMembers()) {
      const s = m.status;
      for (const h of [s?.key?.hash, ...(s?.previousKeys ?? []).map((p) => p.hash), ...(s?.budget?.retiredKeys ?? []).map((r) => r.hash)]) if (h) byHash.set(h, m.metadata.uid);
    }
    const ours = (name: string) => {
      const o = parseKeyName(name);
      return o && o.cluster === cluster ? o.uid : undefined;
    };
    const byLabel = new Map<string, string>();
    for (const k of d.book.all()) {
      const uid = ours(k.name);
      if (uid === undefined) continue;
      byHash.set(k.hash, uid);
      byLabel.set(k.label, uid);
    }
    const changed = await d.usageBook.refresh(d.analytics, USAGE_DAYS_MAX, [...byHash.keys()], (key) => ours(key) ?? byHash.get(key) ?? byLabel.get(key));
    const l = d.usageBook.last;
    d.log.debug({ calls: l.calls, foreignRows: l.unattributed, unresolvedKeys: l.unresolved, full: l.full, truncated: l.truncated }, 'usage analytics read');
    if (l.truncated) d.log.warn('OpenRouter cut the usage analytics answer even for single keys; per-model usage may be incomplete');
    // one Event per policy when rows start being skipped, or for another reason; not one at every sync
    const noted = this.skippedNoted;
    this.skippedNoted = l.skipped > 0 ? (l.skippedWhy ?? 'invalid') : undefined;
    if (l.skipped > 0) d.metricsSkipped?.(l.skipped);
    if (l.skipped > 0 && noted !== this.skippedNoted) {
      const message = `skipped ${l.skipped} row(s) of OpenRouter's usage analytics it could not read (${l.skippedWhy ?? 'invalid'}); the other rows are shown, per-model usage may be incomplete`;
      d.log.warn({ skipped: l.skipped, why: l.skippedWhy }, 'skipped unreadable usage analytics rows');
      for (const p of d.caches.allPolicies()) await d.recorder.warn(p, 'AnalyticsRowsSkipped', message);
    }
    return changed;
  }

  /** Lists this cluster's guardrails in every workspace in use, and the keys each holds. */
  async refreshGuardrails(): Promise<void> {
    const prefix = guardrailPrefix(this.d.clusterId());
    await this.d.guardrailBook.refresh(this.d.guardrails, await this.workspacesInUse('guardrails'), (name) => name.startsWith(prefix));
  }

  /** Relists every workspace in use: a partial list would make other members' keys look deleted. */
  async refreshBook(): Promise<void> {
    await this.d.book.refresh(this.d.keys, await this.workspacesInUse('keys'));
  }

  /**
   * The id of the workspace the policy's keys are created in: undefined for the default one. An owned workspace
   * (a pool without spec.workspace) is known once the policy's status records it; until then this throws
   * WorkspacePending (members wait, nothing goes to the default workspace by mistake).
   */
  async workspaceId(policy: KeyPolicy): Promise<string | undefined> {
    const ws = resolvePolicy(policy).workspace;
    if (!ws) return undefined;
    if (ws.owned) {
      const recorded = policy.status?.workspace;
      if (recorded?.ref === ws.ref) return recorded.id;
      throw new WorkspacePending(ws.ref);
    }
    return this.resolve(ws.ref);
  }

  /** A workspace slug or id to its id, asked once per process; a failure is not asked again for a minute. */
  async resolve(ref: string): Promise<string> {
    const known = this.workspaceIds.get(ref);
    if (known) return known;
    const failed = this.unresolved.get(ref);
    if (failed && this.d.clock.now() - failed.at < RESOLVE_RETRY_MS) throw failed.error;
    try {
      const id = await this.d.keys.workspaceId(ref);
      this.workspaceIds.set(ref, id);
      this.unresolved.delete(ref);
      return id;
    } catch (e) {
      this.unresolved.set(ref, { at: this.d.clock.now(), error: e });
      throw e;
    }
  }

  /**
   * The workspaces of the policies this operator serves that may hold its keys, or its guardrails (those are filed
   * in the default workspace or the one a policy names: an owned workspace holds only keys).
   */
  private async workspacesInUse(of: 'keys' | 'guardrails'): Promise<(string | undefined)[]> {
    const ids: (string | undefined)[] = [undefined];
    // wherever its members' active keys were made, whatever their policies say now
    if (of === 'keys') for (const m of this.d.caches.allMembers()) if (m.status?.key?.workspaceId) ids.push(m.status.key.workspaceId);
    for (const p of this.d.caches.servedPolicies(this.d.clusterId())) {
      // workspaces the policy's keys were moved out of stay listed until they hold none, and the one its status
      // records: the spec may already name another (a move not yet reconciled, a pause)
      for (const w of [...(p.status?.formerWorkspaces ?? []), ...(p.status?.workspace ? [p.status.workspace] : [])]) if (of === 'keys' || !w.owned) ids.push(w.id);
      if (of === 'guardrails' && p.spec.workspace === undefined) continue;
      try {
        ids.push(await this.workspaceId(p));
      } catch (e) {
        // an owned workspace not created yet holds no key; one policy naming a workspace that does not exist must
        // not stop usage, drift and sweeps for all
        if (e instanceof WorkspacePending) continue;
        // said once per failed lookup (a minute), not at every listing that meets it
        const failed = p.spec.workspace === undefined ? undefined : this.unresolved.get(p.spec.workspace);
        if (failed?.warned) continue;
        if (failed) failed.warned = true;
        this.d.log.warn({ policy: p.metadata.name, workspace: p.spec.workspace, err: errorMessage(e) }, 'cannot resolve the policy workspace; its keys are not listed');
      }
    }
    return [...new Set(ids)];
  }
}
