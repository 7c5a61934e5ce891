/**
 * The operator: informers feed a keyed work queue; workers reconcile TeamMembers and KeyPolicies; the key sync
 * (controller/sync.ts) lists OpenRouter's keys once per interval for usage, drift and orphans. This module wires
 * them and owns the lifecycle: prepare (a warm standby), lead, depose, stop.
 */
import type { KubeConfigLike } from './kube/access.ts';
import type { Logger } from 'pino';
import type { Config } from './config.ts';
import { Caches } from './controller/caches.ts';
import { Credentials, loadHmacKey } from './controller/credentials.ts';
import { Dispatcher, entriesFor } from './controller/dispatch.ts';
import { Recorder } from './controller/events.ts';
import { GuardrailBook } from './controller/guardrailbook.ts';
import { operatorId } from './controller/identity.ts';
import { KeyBook } from './controller/keybook.ts';
import { Periodic } from './controller/periodic.ts';
import { WorkQueue } from './controller/queue.ts';
import { RESTART_PUMP_MS, type RestartLine } from './controller/restartline.ts';
import { ROLLOUTS_LOOK_MS } from './controller/rolloutwatch.ts';
import { wireRestartTriggers } from './controller/restarttriggers.ts';
import { KeySync } from './controller/sync.ts';
import { enqueueAll, wireTriggers } from './controller/triggers.ts';
import { UsageBook } from './controller/usagebook.ts';
import { workItems, type WorkItem } from './controller/workitem.ts';
import { restartLineFor } from './controller/workloadentry.ts';
import { Cluster } from './kube/cluster.ts';
import { Metrics } from './metrics/metrics.ts';
import { openRouterPorts, type OpenRouterPorts } from './openrouter/ports.ts';
import { monotonicClock, type Clock } from './util/clock.ts';
import { parseDuration } from './util/duration.ts';
import { errorMessage } from './util/errors.ts';

export class Operator {
  readonly cluster: Cluster;
  readonly queue: WorkQueue<WorkItem>;
  readonly credentials: Credentials;
  readonly metrics: Metrics;
  private readonly openrouter: OpenRouterPorts;
  private readonly book: KeyBook;
  private readonly guardrailBook = new GuardrailBook();
  private readonly usageBook: UsageBook;
  private readonly cfg: Config;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly recorder: Recorder;
  private readonly caches: Caches;
  private readonly keySync: KeySync;
  /** the queue's handler: routing and the failure policy (controller/dispatch.ts, controller/failure.ts) */
  private readonly dispatch: Dispatcher;
  private readonly periodic: Periodic;
  /** the bound on workload restarts, and the restarts waiting under it */
  private readonly restarts: RestartLine;
  private leading = false;
  private lastLoop = Date.now();
  /** in every key and guardrail name it creates, and its entry in each policy's status (controller/identity.ts) */
  private clusterId: string;

  constructor(cfg: Config, kc: KubeConfigLike, clock: Clock, log: Logger) {
    this.cfg = cfg;
    this.clusterId = cfg.clusterId ?? '';
    this.clock = clock;
    this.log = log;
    this.periodic = new Periodic(log);
    this.cluster = new Cluster(kc, cfg.instance);
    this.caches = new Caches(this.cluster, cfg.namespaceSelector, log, cfg.restartWorkloads);
    this.metrics = new Metrics({
      queueDepth: () => this.queue.depth, restartsQueued: () => this.restarts.size, rateLimitWaitMs: () => this.openrouter.limiter.waitedMs,
      rateLimit: () => ({ perSecond: this.openrouter.limiter.rate, cuts: this.openrouter.limiter.throttles.cuts }),
      kubernetesWrites: () => this.cluster.writes, kubernetesReads: () => this.cluster.reads, leading: () => this.leading, clusterId: () => this.clusterId, managementKeyValid: () => this.credentials.valid,
      members: () => this.caches.allMembers(), policies: () => this.caches.allPolicies(), now: () => clock.now(), memberMetrics: cfg.memberMetrics,
    });
    this.recorder = new Recorder(this.cluster, log);
    this.credentials = new Credentials({
      cluster: this.cluster, namespace: cfg.namespace, secretName: cfg.managementKeySecret, secretKey: cfg.managementKeySecretKey, log,
      clock, recorder: this.recorder, recheckBaseMs: parseDuration(cfg.credentialsInterval),
    });
    this.openrouter = openRouterPorts({
      baseUrl: cfg.openrouterUrl, apiKey: () => this.credentials.candidate(), clock,
      perSecond: cfg.rateLimitPerSecond, burst: cfg.rateLimitBurst, analyticsPerMinute: cfg.analyticsPerMinute,
      // the fence: once this replica stops leading, not one more write leaves it, even from a reconcile in flight
      mayWrite: () => this.leading,
      observe: (route, code, ms) => {
        this.metrics.openrouterCalls.inc({ route, code: String(code) });
        this.metrics.openrouterDuration.observe({ route }, ms / 1000);
        this.dispatch.answered(code);
      },
    });
    this.cluster.fence(() => this.leading);
    this.book = new KeyBook(clock);
    this.usageBook = new UsageBook(clock);
    this.queue = new WorkQueue({ workers: cfg.workers, clock: monotonicClock, codec: workItems });
    // the operator's clock, as every window and expiry: a test moves it, and the bound follows
    this.restarts = restartLineFor({ caches: this.caches, queue: this.queue, clock }, { perNamespace: cfg.namespaceRestartsPerMinute, fleet: cfg.restartsPerMinute });
    this.keySync = new KeySync({
      book: this.book, keys: this.openrouter.keys, guardrailBook: this.guardrailBook, guardrails: this.openrouter.guardrails, analytics: this.openrouter.analytics, usageBook: this.usageBook,
      caches: this.caches, cluster: this.cluster, recorder: this.recorder, clock, log, clusterId: () => this.clusterId, minSyncInterval: cfg.minSyncInterval, orphanGrace: cfg.orphanGrace,
      // everything looks again, and so does the restart line (a clock a test moved forward frees room at once)
      listed: () => {
        enqueueAll(this.caches, this.queue);
        this.restarts.pump();
      },
      metricsSkipped: (rows) => this.metrics.analyticsRowsSkipped.inc(rows),
    });
    this.dispatch = new Dispatcher({ queue: this.queue, synced: () => this.caches.synced, metrics: this.metrics, log, recheckCredentials: () => this.refreshCredentials(true) });
    wireTriggers(this.caches, this.queue, () => this.clusterId);
    wireRestartTriggers(this.caches, this.queue);
    this.credentials.whenValid(() => enqueueAll(this.caches, this.queue));
  }

  /** counters the benchmark and tests read */
  get stats(): { reconciles: number; syncs: number } {
    return { reconciles: this.dispatch.count, syncs: this.keySync.count };
  }

  /** This operator's id (controller/identity.ts); empty before prepare(). */
  get operatorId(): string {
    return this.clusterId;
  }

  get ready(): boolean {
    return this.notReady() === undefined;
  }

  /** Why this replica should not receive traffic; a standby with warm caches is ready. */
  notReady(): string | undefined {
    if (!this.caches.synced) return 'informers not synced';
    const key = this.credentials.current;
    if (key.state !== 'valid') return key.state === 'invalid' ? `management key: ${key.message}` : 'management key not checked yet';
    return undefined;
  }

  /** Alive: the periodic loops keep ticking. */
  healthy(): boolean {
    return Date.now() - this.lastLoop < 5 * 60_000;
  }

  /** Everything a standby does too: caches, the management key, the HMAC key. Writes nothing but that key. */
  async prepare(): Promise<void> {
    this.periodic.resume();
    // two clusters, or two operators sharding one, sharing one OpenRouter account must never sweep, offboard or
    // overwrite what is each other's: a default id unique per cluster, and per operator under --namespace-selector
    if (!this.clusterId) {
      const id = operatorId(this.cfg, this.cfg.clusterId ?? (await this.cluster.namespaceUid('kube-system')));
      this.clusterId = id.id;
      this.log.info({ clusterId: id.id, from: id.from }, 'operator id');
    }
    const hmacKey = await loadHmacKey(this.cluster, this.cfg.namespace, this.cfg.hmacSecret);
    await this.refreshCredentials();
    await this.caches.start();
    // built once the id and the HMAC key are known, and shared by every reconcile
    this.dispatch.entries = entriesFor({
      cluster: this.cluster, keys: this.openrouter.keys, book: this.book, guardrails: this.openrouter.guardrails, guardrailBook: this.guardrailBook, usageBook: this.usageBook,
      workspaces: this.openrouter.workspaces, caches: this.caches, keySync: this.keySync, credentials: this.credentials, queue: this.queue, metrics: this.metrics, recorder: this.recorder,
      clock: this.clock, log: this.log, clusterId: this.clusterId, hmacKey, baseUrl: this.cfg.secretBaseUrl ?? this.cfg.openrouterUrl,
      maxConcurrentRotations: this.cfg.maxConcurrentRotations, namespaceSelector: this.cfg.namespaceSelector, restarts: this.restarts,
    });
    this.periodic.every(parseDuration(this.cfg.credentialsInterval), async () => {
      this.lastLoop = Date.now();
      await this.refreshCredentials();
    });
    this.periodic.every(ROLLOUTS_LOOK_MS, () => this.lookForRollouts());
  }

  /** Looks whether Argo Rollouts are served (also at start and every minute): opted-in Rollouts are watched while they are. */
  async lookForRollouts(): Promise<void> {
    await this.caches.rollouts?.look();
  }

  /** Starts prepare() and the workers: the single-replica path used by tests and `--leader-elect=false`. */
  async start(): Promise<void> {
    await this.prepare();
    this.lead();
  }

  /** Leadership: workers and the sync loop run only here. */
  lead(): void {
    this.leading = true;
    this.queue.start((item) => this.dispatch.handle(item), (item, err) => this.dispatch.failed(item, err));
    this.periodic.every(parseDuration(this.cfg.minSyncInterval), async () => {
      if (this.credentials.valid) await this.keySync.maybeSync();
    });
    // room comes back with time: waiting restarts whose turn came are called (a clock moved by a test too)
    this.periodic.every(RESTART_PUMP_MS, async () => this.restarts.pump());
    enqueueAll(this.caches, this.queue);
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
    this.leading = false;
    this.periodic.stop();
    await this.caches.stop();
    await this.queue.shutdown(deadlineMs);
    await this.openrouter.client.close();
  }

  /** Lists every key once, revokes orphans, and re-reconciles every member against what was listed. */
  sync(): Promise<void> {
    return this.keySync.sync();
  }

  /** `recheck`: OpenRouter just refused the key, whatever was last seen of it. */
  private async refreshCredentials(recheck = false): Promise<void> {
    if (recheck) this.credentials.recheck();
    try {
      await this.credentials.refresh(this.openrouter.client);
    } catch (e) {
      this.log.warn({ err: errorMessage(e) }, 'could not read the management key Secret');
    }
  }
}
