/**
 * The operator: informers feed a keyed work queue; workers reconcile TeamMembers and KeyPolicies; the key sync
 * (controller/sync.ts) lists OpenRouter's keys once per interval for usage, drift and orphans. This module wires
 * them and owns the lifecycle: prepare (a warm standby), lead, depose, stop.
 */
import type { KeyObject } from 'node:crypto';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { offboardee, parseMember, parsePolicy, policyNameOf, type Parsed } from './api/objects.ts';
import { FINALIZER, POLICY_FINALIZER, type TeamMember } from './api/schema.ts';
import type { Config } from './config.ts';
import { Caches } from './controller/caches.ts';
import { Credentials, loadHmacKey } from './controller/credentials.ts';
import { Recorder } from './controller/events.ts';
import { classifyFailure } from './controller/failure.ts';
import { KeyBook } from './controller/keybook.ts';
import { GuardrailBook } from './controller/guardrailbook.ts';
import { deleteStrayGuardrails, guardrailFor, type GuardrailDeps } from './controller/policy/guardrail.ts';
import { guardrailName } from './controller/policy/rules.ts';
import { finalizes, operatorId, recordedOperator, selectorText } from './controller/identity.ts';
import type { GuardrailPort } from './domain/guardrail.ts';
import { OpenRouterGuardrails } from './openrouter/guardrails.ts';
import type { KeyPort } from './domain/key.ts';
import { reconcileInvalid } from './controller/member/invalid.ts';
import { reconcileMember, type MemberDeps, type Result } from './controller/member/reconcile.ts';
import { reconcilePolicy } from './controller/policy/reconcile.ts';
import { WorkQueue } from './controller/queue.ts';
import { KeySync } from './controller/sync.ts';
import { UsageBook } from './controller/usagebook.ts';
import { OpenRouterAnalytics } from './openrouter/analytics.ts';
import { RotationSlots } from './controller/slots.ts';
import { rotating } from './controller/member/rotation.ts';
import { MEMBER, POLICY, STRAY_GUARDRAILS, WORKLOAD, memberKey, wireTriggers } from './controller/triggers.ts';
import { reconcileWorkload } from './controller/restarts.ts';
import { Cluster } from './kube/cluster.ts';
import { isKube } from './kube/errors.ts';
import { OpenRouterClient } from './openrouter/client.ts';
import { OpenRouterKeys } from './openrouter/keys.ts';
import { RateLimiter } from './openrouter/limiter.ts';
import { Metrics } from './metrics/metrics.ts';
import { monotonicClock, type Clock } from './util/clock.ts';
import { OpenRouterRecovery } from './controller/recovery.ts';
import { parseDuration } from './util/duration.ts';
import { errorMessage } from './util/errors.ts';


/** How long after a rotation ends the members waiting for a slot look again (the cache catches up meanwhile). */
const SLOT_WAKE_MS = 2_000;

export class Operator {
  readonly cluster: Cluster;
  readonly client: OpenRouterClient;
  readonly keys: KeyPort;
  readonly book: KeyBook;
  readonly guardrails: GuardrailPort;
  readonly guardrailBook = new GuardrailBook();
  readonly usageBook: UsageBook;
  readonly queue: WorkQueue;
  /** members held back by OpenRouter's trouble, due again once it answers cleanly (elapsed time, as the queue) */
  private readonly recovery = new OpenRouterRecovery(monotonicClock);
  readonly credentials: Credentials;
  readonly metrics: Metrics;
  private readonly cfg: Config;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly recorder: Recorder;
  private readonly caches: Caches;
  private readonly keySync: KeySync;
  private readonly rotationSlots: RotationSlots;
  private hmacKey: KeyObject | undefined;
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;
  private leading = false;
  private lastLoop = Date.now();
  private reconciles = 0;
  /**
   * This operator's id, in every key and guardrail name it creates and keying its entry in each policy's status:
   * --cluster-id, or derived from the kube-system namespace UID (and, sharded, its own namespace) in prepare()
   */
  private clusterId: string;

  constructor(cfg: Config, kc: KubeConfig, clock: Clock, log: Logger) {
    this.cfg = cfg;
    this.clusterId = cfg.clusterId ?? '';
    this.clock = clock;
    this.log = log;
    this.cluster = new Cluster(kc, cfg.instance);
    this.caches = new Caches(this.cluster, cfg.namespaceSelector, log, cfg.restartWorkloads);
    // elapsed time, not the domain clock: a clock moved by a test or stepped by NTP must not starve or flood the bucket
    const limiter = new RateLimiter(cfg.rateLimitPerSecond, cfg.rateLimitBurst, monotonicClock);
    this.metrics = new Metrics({
      queueDepth: () => this.queue.depth,
      rateLimitWaitMs: () => limiter.waitedMs,
      rateLimit: () => ({ perSecond: limiter.rate, cuts: limiter.throttles.cuts }),
      kubernetesWrites: () => this.cluster.writes,
      leading: () => this.leading,
      clusterId: () => this.clusterId,
      managementKeyValid: () => this.credentials.valid,
      members: () => this.caches.allMembers(),
      policies: () => this.caches.allPolicies(),
      now: () => clock.now(),
      memberMetrics: cfg.memberMetrics,
    });
    this.recorder = new Recorder(this.cluster, log);
    this.credentials = new Credentials({
      cluster: this.cluster, namespace: cfg.namespace, secretName: cfg.managementKeySecret, secretKey: cfg.managementKeySecretKey, log,
      clock, recorder: this.recorder, recheckBaseMs: parseDuration(cfg.credentialsInterval),
    });
    this.client = new OpenRouterClient({
      baseUrl: cfg.openrouterUrl,
      apiKey: () => this.credentials.candidate(),
      limiter,
      clock,
      // the fence: once this replica stops leading, not one more write leaves it, even from a reconcile in flight
      mayWrite: () => this.leading,
      observe: (route, code, ms) => {
        this.metrics.openrouterCalls.inc({ route, code: String(code) });
        this.metrics.openrouterDuration.observe({ route }, ms / 1000);
        for (const key of this.recovery.answered(code)) this.queue.release(key);
      },
    });
    this.keys = new OpenRouterKeys(this.client);
    this.guardrails = new OpenRouterGuardrails(this.client);
    this.cluster.fence(() => this.leading);
    this.book = new KeyBook(clock);
    this.usageBook = new UsageBook(clock);
    this.queue = new WorkQueue({ workers: cfg.workers, clock: monotonicClock });
    this.keySync = new KeySync({
      book: this.book, keys: this.keys, guardrailBook: this.guardrailBook, guardrails: this.guardrails, analytics: new OpenRouterAnalytics(this.client, cfg.analyticsPerMinute), usageBook: this.usageBook,
      caches: this.caches, cluster: this.cluster, recorder: this.recorder, clock, log, clusterId: () => this.clusterId, minSyncInterval: cfg.minSyncInterval, orphanGrace: cfg.orphanGrace, listed: () => this.enqueueAll(),
      metricsSkipped: (rows) => this.metrics.analyticsRowsSkipped.inc(rows),
    });
    this.rotationSlots = new RotationSlots(cfg.maxConcurrentRotations, monotonicClock, () => new Set(this.caches.allMembers().filter((m) => m.status && rotating(m.status)).map((m) => `${m.metadata.namespace ?? ''}/${m.metadata.name}`)));
    wireTriggers(this.caches, this.queue, () => this.clusterId);
    this.credentials.whenValid(() => this.enqueueAll());
  }

  /** counters the benchmark and tests read */
  get stats(): { reconciles: number; syncs: number } {
    return { reconciles: this.reconciles, syncs: this.keySync.count };
  }

  /** This operator's id (see controller/identity.ts); empty before prepare(). */
  get operatorId(): string {
    return this.clusterId;
  }

  /**
   * Everything again (after a sync, or the management key works again): offboarding that waited goes first, also
   * of members whose namespace this operator no longer manages (reconcileMember decides which are its own).
   */
  private enqueueAll(): void {
    for (const m of this.caches.allMembers()) this.queue.add(memberKey(m), m.metadata.deletionTimestamp !== undefined);
    for (const o of this.caches.members.list()) {
      if (o.metadata?.deletionTimestamp !== undefined && o.metadata.finalizers?.includes(FINALIZER) && !this.caches.manages(o.metadata.namespace)) this.queue.add(memberKey(o), true);
    }
    for (const p of this.caches.policies.list()) this.queue.add(POLICY + (p.metadata?.name ?? ''));
    this.queue.add(STRAY_GUARDRAILS);
  }

  get ready(): boolean {
    return this.notReady() === undefined;
  }

  /** Why this replica should not receive traffic; a standby with warm caches is ready. */
  notReady(): string | undefined {
    if (!this.caches.synced) return 'informers not synced';
    if (this.credentials.current.state !== 'valid') {
      return this.credentials.current.state === 'invalid' ? `management key: ${this.credentials.current.message}` : 'management key not checked yet';
    }
    return undefined;
  }

  /** Alive: the periodic loops keep ticking. */
  healthy(): boolean {
    return Date.now() - this.lastLoop < 5 * 60_000;
  }

  /** Everything a standby does too: caches, the management key, the HMAC key. Writes nothing but that key. */
  async prepare(): Promise<void> {
    this.stopped = false;
    // two clusters, or two operators sharding one, sharing one OpenRouter account must never sweep, offboard or
    // overwrite what is each other's: a default id unique per cluster, and per operator under --namespace-selector
    if (!this.clusterId) {
      const id = operatorId(this.cfg, this.cfg.clusterId ?? (await this.cluster.namespaceUid('kube-system')));
      this.clusterId = id.id;
      this.log.info({ clusterId: id.id, from: id.from }, 'operator id');
    }
    this.hmacKey = await loadHmacKey(this.cluster, this.cfg.namespace, this.cfg.hmacSecret);
    await this.refreshCredentials();
    await this.caches.start();
    this.every(parseDuration(this.cfg.credentialsInterval), async () => {
      this.lastLoop = Date.now();
      await this.refreshCredentials();
    });
  }

  /** Starts prepare() and the workers: the single-replica path used by tests and `--leader-elect=false`. */
  async start(): Promise<void> {
    await this.prepare();
    this.lead();
  }

  /** Leadership: workers and the sync loop run only here. */
  lead(): void {
    this.leading = true;
    this.queue.start((key) => this.handle(key), (key, err) => {
      this.log.warn({ item: key, err: errorMessage(err) }, 'reconcile failed; retrying with backoff');
    });
    this.every(parseDuration(this.cfg.minSyncInterval), async () => {
      if (this.credentials.valid) await this.keySync.maybeSync();
    });
    this.enqueueAll();
  }

  /**
   * Leadership lost: stop at once. Workers take no more keys, and the fence refuses every write the reconciles
   * still in flight attempt, so two leaders never both create (client-go's rule, without waiting for a drain).
   */
  depose(): void {
    if (!this.leading) return;
    this.leading = false;
    this.log.warn('leadership lost: writes stopped');
    void this.queue.shutdown(0);
  }

  async stop(deadlineMs = 10_000): Promise<void> {
    this.stopped = true;
    this.leading = false;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.caches.stop();
    await this.queue.shutdown(deadlineMs);
    await this.client.close();
  }

  /** Lists every key once, revokes orphans, and re-reconciles every member against what was listed. */
  sync(): Promise<void> {
    return this.keySync.sync();
  }

  private every(ms: number, fn: () => Promise<void>): void {
    let running = false;
    const t = setInterval(() => {
      if (running || this.stopped) return;
      running = true;
      fn().catch((e: unknown) => this.log.warn({ err: errorMessage(e) }, 'periodic task failed')).finally(() => {
        running = false;
      });
    }, ms);
    t.unref();
    this.timers.push(t);
  }

  private async refreshCredentials(): Promise<void> {
    try {
      await this.credentials.refresh(this.client);
    } catch (e) {
      this.log.warn({ err: errorMessage(e) }, 'could not read the management key Secret');
    }
  }

  private async readMember(namespace: string, name: string): Promise<TeamMember | undefined> {
    try {
      const p = parseMember(await this.cluster.readMember(namespace, name));
      return p?.ok ? p.value : undefined;
    } catch (e) {
      if (isKube(e, 'notFound')) return undefined;
      throw e;
    }
  }

  private deps(): MemberDeps {
    if (!this.hmacKey) throw new Error('operator not started');
    const { namespaces, secrets } = this.caches;
    return {
      cluster: this.cluster,
      keys: this.keys,
      book: this.book,
      guardrails: this.guardrails,
      guardrailBook: this.guardrailBook,
      guardrailFor: (p) => guardrailFor(this.guardrailBook, this.clusterId, p),
      usage: (uid) => (this.usageBook.at ? { rows: this.usageBook.rows(uid), at: this.usageBook.at } : undefined),
      clock: this.clock,
      log: this.log,
      recorder: this.recorder,
      clusterId: this.clusterId,
      baseUrl: this.cfg.secretBaseUrl ?? this.cfg.openrouterUrl,
      hmacKey: this.hmacKey,
      credentialsValid: () => this.credentials.valid,
      policy: (name) => this.caches.policy(name),
      namespaceLabels: (name) => namespaces.get(name)?.metadata?.labels,
      namespaceTerminating: (name) => namespaces.get(name)?.metadata?.deletionTimestamp !== undefined,
      cachedSecret: (ns, name) => secrets.get(name, ns),
      workspaceId: (p) => this.keySync.workspaceId(p),
      refreshBook: () => this.keySync.refreshBook(),
      readMember: (ns, name) => this.readMember(ns, name),
      rotationSlot: (member) => this.rotationSlots.take(member),
      workloadsUsing: (ns, secret) => this.caches.workloadsUsing(ns, secret),
      observe: {
        rotated: (trigger) => this.metrics.rotations.inc({ trigger }),
        overlapEnded: (ended, seconds) => {
          this.metrics.rotationEnds.inc({ ended });
          this.metrics.rotationDuration.observe({ ended }, seconds);
          // a slot frees once this member's status is written and cached: the members waiting try shortly after
          for (const m of this.rotationSlots.wake()) this.queue.addAfter(MEMBER + m, SLOT_WAKE_MS);
        },
      },
    };
  }

  private async handle(key: string): Promise<Result> {
    const resource = key.startsWith(POLICY) || key === STRAY_GUARDRAILS ? 'keypolicy' : key.startsWith(WORKLOAD) ? 'workload' : 'teammember';
    const end = this.metrics.reconcileDuration.startTimer({ resource });
    try {
      const r = await this.reconcile(key);
      if (r.retry) this.recovery.retried(key);
      this.metrics.reconciles.inc({ resource, result: r.retry ? 'retry' : r.requeueAfterMs !== undefined ? 'requeue' : 'done' });
      return r;
    } catch (e) {
      this.metrics.reconciles.inc({ resource, result: 'error' });
      throw e;
    } finally {
      end();
    }
  }

  private async reconcile(key: string): Promise<Result> {
    this.reconciles++;
    if (!this.caches.synced) return { requeueAfterMs: 1_000 };
    try {
      if (key.startsWith(POLICY)) return await this.reconcilePolicy(key.slice(POLICY.length));
      if (key === STRAY_GUARDRAILS) return await this.deleteStrayGuardrails();
      if (key.startsWith(WORKLOAD)) {
        const [kind, ns, name] = key.slice(WORKLOAD.length).split('/');
        const w = this.caches.workload(kind ?? '', ns ?? '', name ?? '');
        if (w && this.caches.manages(ns)) await reconcileWorkload(w, { cluster: this.cluster, recorder: this.recorder, memberBySecret: (n, s) => this.caches.memberBySecret(n, s) });
        return {};
      }
      const [ns, name] = key.slice(MEMBER.length).split('/');
      return await this.reconcileMember(ns ?? '', name ?? '');
    } catch (e) {
      switch (classifyFailure(e)) {
        case 'stale':
          return { retry: true };
        case 'deposed':
          return {};
        case 'credentials':
          this.credentials.recheck();
          await this.refreshCredentials();
          return { requeueAfterMs: 30_000 };
        case 'transient':
          this.log.info({ item: key, err: errorMessage(e) }, 'OpenRouter unavailable; retrying');
          this.recovery.held(key);
          return { retry: true };
        case 'error':
          throw e;
      }
    }
  }

  private async reconcilePolicy(name: string): Promise<Result> {
    const p = parsePolicy(this.caches.policies.get(name));
    if (!p) {
      // gone: this operator's guardrail goes too, whichever operator let the policy go (only once the guardrails
      // are listed: the listing's own sweep of strays follows it)
      if (this.credentials.valid && this.guardrailBook.refreshed && this.guardrailBook.byName(guardrailName(this.clusterId, name))) return this.deleteStrayGuardrails();
      return {};
    }
    const mine = this.caches.allMembers();
    const meta = p.ok ? p.value.metadata : p.raw.metadata;
    // only for a deleted policy: every member naming it, in any namespace, terminating or unreadable (each still
    // needs the policy); a policy reconcile follows every member event, so this is not done otherwise
    const users = meta.deletionTimestamp === undefined ? [] : this.caches.members.list().filter((o) => policyNameOf(o) === name).map((o) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`);
    // an operator scoped to some namespaces only speaks for a policy its members use (or used: its entry in the
    // status is kept true), but lets go of any deleted policy nobody uses any more
    const releasing = meta.deletionTimestamp !== undefined && meta.finalizers?.includes(POLICY_FINALIZER) === true;
    const serving = p.ok && p.value.status?.operators?.[this.clusterId] !== undefined;
    if (this.cfg.namespaceSelector && !mine.some((m) => m.spec.policy === name) && !releasing && !serving) return {};
    return reconcilePolicy(p, this.caches.everyMember(), mine, users, {
      cluster: this.cluster, recorder: this.recorder, now: new Date(this.clock.now()).toISOString(),
      operator: this.clusterId, selector: selectorText(this.cfg.namespaceSelector),
      guardrail: this.credentials.valid ? this.guardrailDeps() : undefined,
      keyExists: (hash) => this.book.get(hash) !== undefined,
    });
  }

  /** This operator's guardrails whose policy no longer exists (policy/guardrail.ts deleteStrayGuardrails). */
  private async deleteStrayGuardrails(): Promise<Result> {
    if (!this.credentials.valid || !this.guardrailBook.refreshed) return {};
    const deleted = await deleteStrayGuardrails(this.caches.policies.list().map((o) => o.metadata?.name ?? ''), this.guardrailDeps());
    if (deleted.length > 0) this.log.info({ guardrails: deleted }, 'deleted the guardrails of deleted policies');
    return {};
  }

  private guardrailDeps(): GuardrailDeps {
    return {
      guardrails: this.guardrails, book: this.guardrailBook, clusterId: this.clusterId, recorder: this.recorder,
      workspaceId: (p) => this.keySync.workspaceId(p),
      refresh: () => this.keySync.refreshGuardrails(),
      now: () => new Date(this.clock.now()).toISOString(),
    };
  }

  /** Whether a deleted member outside the namespaces this operator manages is its own to offboard. */
  private async finalizes(raw: KubernetesObject, m: NonNullable<Parsed<TeamMember>>): Promise<boolean> {
    const view = offboardee(m.ok ? m.value : m.raw);
    if (!view) return false;
    const recorded = recordedOperator(raw);
    let asked = false;
    const decide = () => finalizes(view, recorded, this.clusterId, (hash) => {
      asked = true;
      return this.book.get(hash) !== undefined;
    });
    if (decide()) return true;
    if (!asked || this.book.refreshedFrom !== undefined || !this.credentials.valid) return false;
    // a key named before ids were per operator is recognised by our account holding it: list the account once
    await this.keySync.first().catch((e: unknown) => this.log.warn({ err: errorMessage(e) }, 'first key listing failed'));
    return decide();
  }

  private async reconcileMember(ns: string, name: string): Promise<Result> {
    const cached = this.caches.members.get(name, ns);
    if (!cached) return {};
    // our own write's watch event is on its way and enqueues the member again
    if (this.cluster.behindOwnWrite(ns, name, cached.metadata?.resourceVersion)) return {};
    const m = this.caches.member(cached);
    if (!m) return {};
    // a member this operator offboards is still offboarded by it after its namespace left the selector; "its own"
    // takes a positive mark (controller/identity.ts): another operator's member (another selector, perhaps another
    // account) is never ours, and a 404 from our account would wrongly read as "already deleted" for a key that
    // lives elsewhere
    if (!this.caches.manages(ns) && !(await this.finalizes(cached, m))) return {};
    if (!m.ok) {
      // fail closed: deletion and suspension are read field by field and honoured
      const view = offboardee(m.raw);
      if (!view) return {};
      return reconcileInvalid(view, m.raw, m.message, this.deps());
    }
    if (this.book.refreshedFrom === undefined && this.credentials.valid) {
      // until a first list succeeds, keys are simply not observed yet: plans keep them, nothing is replaced
      await this.keySync.first().catch((e: unknown) => this.log.warn({ err: errorMessage(e) }, 'first key listing failed'));
    }
    return reconcileMember(m.value, this.deps());
  }
}
