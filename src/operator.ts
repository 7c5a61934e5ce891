/**
 * The operator: informers feed a keyed work queue; workers reconcile TeamMembers and KeyPolicies; a sync loop
 * lists OpenRouter's keys once per interval (ceil(N/100) calls) for usage, drift and orphans.
 */
import type { KubeConfig, KubernetesObject, V1Namespace, V1Secret } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { offboardee, parseMember, parsePolicy, policyNameOf, type Parsed } from './api/objects.ts';
import { FINALIZER, LABEL_MANAGED_BY, LABEL_MEMBER, MANAGER, POLICY_FINALIZER, type KeyPolicy, type TeamMember } from './api/schema.ts';
import type { Config } from './config.ts';
import { Credentials, loadHmacKey } from './controller/credentials.ts';
import { Recorder } from './controller/events.ts';
import { KeyBook } from './controller/keybook.ts';
import { reconcileInvalid } from './controller/member/invalid.ts';
import { reconcileMember, type MemberDeps } from './controller/member/reconcile.ts';
import { reconcilePolicy } from './controller/policy/reconcile.ts';
import { WorkQueue } from './controller/queue.ts';
import { classifyFailure } from './controller/failure.ts';
import { revokeOrphans } from './controller/sweep.ts';
import { matchesSelector } from './controller/selector.ts';
import { Cluster } from './kube/cluster.ts';
import { isKube } from './kube/errors.ts';
import type { ResilientInformer } from './kube/informer.ts';
import { OpenRouterClient } from './openrouter/client.ts';
import { RateLimiter } from './openrouter/limiter.ts';
import { Metrics } from './metrics/metrics.ts';
import { monotonicClock, type Clock } from './util/clock.ts';
import { parseDuration } from './util/duration.ts';

const MEMBER = 'tm/';
const POLICY = 'kp/';

export class Operator {
  readonly cluster: Cluster;
  readonly client: OpenRouterClient;
  readonly book: KeyBook;
  readonly queue: WorkQueue;
  readonly credentials: Credentials;
  private readonly cfg: Config;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly recorder: Recorder;
  private readonly members: ResilientInformer<KubernetesObject>;
  private readonly policies: ResilientInformer<KubernetesObject>;
  private readonly namespaces: ResilientInformer<V1Namespace>;
  private readonly secrets: ResilientInformer<V1Secret>;
  private readonly workspaceIds = new Map<string, string>();
  private readonly parsedMembers = new Map<string, { rv: string; value: Parsed<TeamMember> }>();
  private hmacKey: Buffer | undefined;
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;
  private lastSync = 0;
  /** counters the benchmark and tests read */
  readonly stats = { reconciles: 0, syncs: 0 };
  readonly metrics: Metrics;
  private leading = false;
  private lastLoop = Date.now();
  /** --cluster-id, or this cluster's kube-system namespace UID (known after prepare()) */
  private clusterId: string;

  constructor(cfg: Config, kc: KubeConfig, clock: Clock, log: Logger) {
    this.cfg = cfg;
    this.clusterId = cfg.clusterId ?? '';
    this.clock = clock;
    this.log = log;
    this.cluster = new Cluster(kc, cfg.instance);
    const limiter = new RateLimiter(cfg.rateLimitPerSecond, cfg.rateLimitBurst, clock);
    this.metrics = new Metrics({
      queueDepth: () => this.queue.depth,
      rateLimitWaitMs: () => limiter.waitedMs,
      leading: () => this.leading,
      clusterId: () => this.clusterId,
      managementKeyValid: () => this.credentials.valid,
      members: () => this.allMembers().map((m) => ({
        namespace: m.metadata.namespace ?? '', name: m.metadata.name, policy: m.spec.policy, hasKey: m.status?.key !== undefined,
        spentUSD: m.status?.usage?.windowUSD, limitUSD: m.status?.budget?.limitUSD,
      })),
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
      },
    });
    this.cluster.fence(() => this.leading);
    this.book = new KeyBook(clock);
    this.queue = new WorkQueue({ workers: cfg.workers, clock: monotonicClock });
    const onError = (what: string) => (err: unknown, retryInMs: number) => this.log.warn({ informer: what, retryInMs, err: err instanceof Error ? err.message : String(err) }, 'watch stopped; restarting');
    this.members = this.cluster.memberInformer({ onError: onError('teammembers') });
    this.policies = this.cluster.policyInformer({ onError: onError('keypolicies') });
    this.namespaces = this.cluster.namespaceInformer({ onError: onError('namespaces') });
    this.secrets = this.cluster.secretInformer(`${LABEL_MANAGED_BY}=${MANAGER},${LABEL_MEMBER}`, { onError: onError('secrets') });
    this.wire();
  }

  /** Informer callbacks only enqueue keys; workers read the latest object from the cache. */
  private wire(): void {
    const memberKey = (o: { metadata?: { namespace?: string | undefined; name?: string | undefined } | undefined }) => `${MEMBER}${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
    // each member as last seen: the policy it named (moving re-evaluates the one it left) and what a person last
    // asked of it (a new generation or a deletion jumps the queue and any backoff: offboarding never waits)
    const seen = new Map<string, { policy: string | undefined; generation: number | undefined; deleting: boolean }>();
    const onMember = (o: KubernetesObject) => {
      const key = memberKey(o);
      const now = { policy: policyNameOf(o), generation: o.metadata?.generation, deleting: o.metadata?.deletionTimestamp !== undefined };
      const before = seen.get(key);
      seen.set(key, now);
      this.queue.add(key, before !== undefined && (now.generation !== before.generation || (now.deleting && !before.deleting)));
      if (before?.policy !== undefined && before.policy !== now.policy) this.queue.add(POLICY + before.policy);
      if (now.policy) this.queue.add(POLICY + now.policy);
    };
    for (const verb of ['add', 'update', 'delete'] as const) this.members.on(verb, onMember);
    this.members.on('delete', (o) => {
      this.parsedMembers.delete(`${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`);
      seen.delete(memberKey(o));
    });
    const onPolicy = (o: KubernetesObject) => {
      const name = o.metadata?.name ?? '';
      this.queue.add(POLICY + name);
      for (const m of this.allMembers()) if (m.spec.policy === name) this.queue.add(memberKey(m));
    };
    for (const verb of ['add', 'update', 'delete'] as const) this.policies.on(verb, onPolicy);
    const onNamespace = (ns: V1Namespace) => {
      for (const o of this.members.list(ns.metadata?.name)) this.queue.add(memberKey(o));
    };
    this.namespaces.on('add', onNamespace);
    this.namespaces.on('update', onNamespace);
    const onSecret = (s: V1Secret) => {
      const member = s.metadata?.labels?.[LABEL_MEMBER];
      if (member) this.queue.add(`${MEMBER}${s.metadata?.namespace ?? ''}/${member}`);
    };
    for (const verb of ['update', 'delete'] as const) this.secrets.on(verb, onSecret);
    this.credentials.whenValid(() => this.enqueueAll());
  }

  /** Whether this operator manages TeamMembers in the namespace (--namespace-selector). */
  private manages(namespace: string | undefined): boolean {
    const selector = this.cfg.namespaceSelector;
    if (!selector) return true;
    return namespace !== undefined && matchesSelector({ matchLabels: selector }, this.namespaces.get(namespace)?.metadata?.labels);
  }

  /** Parses a cached member once per resourceVersion: policy reconciles, sweeps and scrapes read all of them. */
  private member(o: KubernetesObject | undefined): Parsed<TeamMember> {
    if (!o) return undefined;
    const id = `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
    const rv = o.metadata?.resourceVersion ?? '';
    const hit = this.parsedMembers.get(id);
    if (hit && hit.rv === rv) return hit.value;
    const value = parseMember(o);
    this.parsedMembers.set(id, { rv, value });
    return value;
  }

  private allMembers(): TeamMember[] {
    return this.members.list().flatMap((o) => {
      const p = this.member(o);
      return p?.ok && this.manages(p.value.metadata.namespace) ? [p.value] : [];
    });
  }

  private allPolicies(): KeyPolicy[] {
    return this.policies.list().flatMap((o) => {
      const p = parsePolicy(o);
      return p?.ok ? [p.value] : [];
    });
  }

  private policy(name: string): KeyPolicy | undefined {
    const p = parsePolicy(this.policies.get(name));
    return p?.ok ? p.value : undefined;
  }

  /** Everything again (the management key works again, say): offboarding that waited goes first. */
  private enqueueAll(): void {
    for (const m of this.allMembers()) this.queue.add(`${MEMBER}${m.metadata.namespace ?? ''}/${m.metadata.name}`, m.metadata.deletionTimestamp !== undefined);
    for (const p of this.policies.list()) this.queue.add(POLICY + (p.metadata?.name ?? ''));
  }

  get ready(): boolean {
    return this.notReady() === undefined;
  }

  /** Why this replica should not receive traffic; a standby with warm caches is ready. */
  notReady(): string | undefined {
    if (!this.synced) return 'informers not synced';
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
    // two clusters sharing one OpenRouter account must never sweep each other's keys: a default unique per cluster
    this.clusterId ||= (await this.cluster.namespaceUid('kube-system'));
    this.log.info({ clusterId: this.clusterId, from: this.cfg.clusterId ? '--cluster-id' : 'kube-system namespace UID' }, 'cluster id');
    this.hmacKey = await loadHmacKey(this.cluster, this.cfg.namespace, this.cfg.hmacSecret);
    await this.refreshCredentials();
    await Promise.all([this.namespaces.start(), this.policies.start(), this.secrets.start(), this.members.start()]);
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
      this.log.warn({ item: key, err: err instanceof Error ? err.message : String(err) }, 'reconcile failed; retrying with backoff');
    });
    this.every(parseDuration(this.cfg.minSyncInterval), () => this.maybeSync());
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
    await Promise.all([this.members.stop(), this.policies.stop(), this.namespaces.stop(), this.secrets.stop()]);
    await this.queue.shutdown(deadlineMs);
    await this.client.close();
  }

  private every(ms: number, fn: () => Promise<void>): void {
    let running = false;
    const t = setInterval(() => {
      if (running || this.stopped) return;
      running = true;
      fn().catch((e: unknown) => this.log.warn({ err: e instanceof Error ? e.message : String(e) }, 'periodic task failed')).finally(() => {
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
      this.log.warn({ err: e instanceof Error ? e.message : String(e) }, 'could not read the management key Secret');
    }
  }

  /** The shortest usage.syncInterval of any policy decides how often keys are listed. */
  private syncIntervalMs(): number {
    const floor = parseDuration(this.cfg.minSyncInterval);
    let ms = Number.POSITIVE_INFINITY;
    for (const p of this.allPolicies()) ms = Math.min(ms, parseDuration(p.spec.usage?.syncInterval ?? '5m'));
    return Math.max(floor, Number.isFinite(ms) ? ms : parseDuration('5m'));
  }

  private async maybeSync(): Promise<void> {
    if (!this.credentials.valid || this.clock.now() - this.lastSync < this.syncIntervalMs()) return;
    await this.sync();
  }

  /** Lists every key once, revokes orphans, and lets each member compare its status with what was listed. */
  async sync(): Promise<void> {
    this.lastSync = this.clock.now();
    await this.book.refresh(this.client, await this.allWorkspaceIds());
    this.stats.syncs++;
    await this.sweep();
    this.enqueueAll();
  }

  private async allWorkspaceIds(): Promise<(string | undefined)[]> {
    const ids: (string | undefined)[] = [undefined];
    for (const p of this.allPolicies()) {
      try {
        ids.push(await this.workspaceId(p));
      } catch (e) {
        // one policy naming a workspace that does not exist must not stop usage, drift and sweeps for all
        this.log.warn({ policy: p.metadata.name, workspace: p.spec.workspace, err: e instanceof Error ? e.message : String(e) }, 'cannot resolve the policy workspace; its keys are not listed');
      }
    }
    return [...new Set(ids)];
  }

  private async sweep(): Promise<void> {
    await revokeOrphans({
      book: this.book, client: this.client, cluster: this.cluster, recorder: this.recorder, log: this.log, clusterId: this.clusterId,
      manages: (ns) => this.manages(ns), cached: (ns, name) => this.members.get(name, ns), now: this.clock.now(), graceMs: parseDuration(this.cfg.orphanGrace),
    });
  }

  private async workspaceId(policy: KeyPolicy): Promise<string | undefined> {
    const ws = policy.spec?.workspace;
    if (!ws) return undefined;
    const known = this.workspaceIds.get(ws);
    if (known) return known;
    const id = await this.client.workspaceId(ws);
    this.workspaceIds.set(ws, id);
    return id;
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
    return {
      cluster: this.cluster,
      client: this.client,
      book: this.book,
      clock: this.clock,
      log: this.log,
      recorder: this.recorder,
      clusterId: this.clusterId,
      baseUrl: this.cfg.secretBaseUrl ?? this.cfg.openrouterUrl,
      hmacKey: this.hmacKey,
      credentialsValid: () => this.credentials.valid,
      policy: (name) => this.policy(name),
      namespaceLabels: (name) => this.namespaces.get(name)?.metadata?.labels,
      namespaceTerminating: (name) => this.namespaces.get(name)?.metadata?.deletionTimestamp !== undefined,
      cachedSecret: (ns, name) => this.secrets.get(name, ns),
      workspaceId: (p) => this.workspaceId(p),
      refreshBook: async () => this.book.refresh(this.client, await this.allWorkspaceIds()),
      readMember: (ns, name) => this.readMember(ns, name),
    };
  }

  private async handle(key: string): Promise<{ requeueAfterMs?: number | undefined; retry?: boolean }> {
    const resource = key.startsWith(POLICY) ? 'keypolicy' : 'teammember';
    const end = this.metrics.reconcileDuration.startTimer({ resource });
    try {
      const r = await this.reconcile(key);
      this.metrics.reconciles.inc({ resource, result: r.retry ? 'retry' : r.requeueAfterMs !== undefined ? 'requeue' : 'done' });
      return r;
    } catch (e) {
      this.metrics.reconciles.inc({ resource, result: 'error' });
      throw e;
    } finally {
      end();
    }
  }

  private get synced(): boolean {
    return this.members.synced && this.policies.synced && this.namespaces.synced && this.secrets.synced;
  }

  private async reconcile(key: string): Promise<{ requeueAfterMs?: number | undefined; retry?: boolean }> {
    this.stats.reconciles++;
    // an empty cache would read as "no policy", "namespace not allowed", "no Secret": never decide on one
    if (!this.synced) return { requeueAfterMs: 1_000 };
    try {
      if (key.startsWith(POLICY)) {
        const name = key.slice(POLICY.length);
        const p = parsePolicy(this.policies.get(name));
        if (!p) return {};
        const members = this.allMembers();
        const meta = p.ok ? p.value.metadata : p.raw.metadata;
        // only for a deleted policy: every member naming it, in any namespace, terminating or unreadable (each still
        // needs the policy); a policy reconcile follows every member event, so this is not done otherwise
        const users = meta.deletionTimestamp === undefined ? [] : this.members.list().filter((o) => policyNameOf(o) === name).map((o) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`);
        // an operator scoped to some namespaces only speaks for a policy its members use, but lets go of any
        // deleted policy nobody uses any more
        const releasing = meta.deletionTimestamp !== undefined && meta.finalizers?.includes(POLICY_FINALIZER) === true;
        if (!this.cfg.namespaceSelector || members.some((m) => m.spec.policy === name) || releasing) {
          return await reconcilePolicy(p, members, users, { cluster: this.cluster, recorder: this.recorder, now: new Date(this.clock.now()).toISOString() });
        }
        return {};
      }
      const [ns, name] = key.slice(MEMBER.length).split('/');
      const m = this.member(this.members.get(name ?? '', ns));
      if (!m) return {};
      // a member already in our care is still finalized after its namespace left the selector; "in our care" means
      // its key is in our account: another operator's member (another selector, another account) is never ours,
      // and a 404 from our account would wrongly read as "already deleted" for a key that lives elsewhere
      const meta = m.ok ? m.value.metadata : m.raw.metadata;
      const keyHash = m.ok ? m.value.status?.key?.hash : offboardee(m.raw)?.key?.hash;
      const ours = meta.finalizers?.includes(FINALIZER) && meta.deletionTimestamp && keyHash !== undefined && this.book.get(keyHash) !== undefined;
      if (!this.manages(ns) && !ours) return {};
      if (!m.ok) {
        // fail closed: deletion and suspension are read field by field and honoured
        const view = offboardee(m.raw);
        if (!view) return {};
        return await reconcileInvalid(view, m.raw, m.message, this.deps());
      }
      if (this.book.refreshedFrom === undefined && this.credentials.valid) {
        // until a first list succeeds, keys are simply not observed yet: plans keep them, nothing is replaced
        await this.sync().catch((e: unknown) => this.log.warn({ err: e instanceof Error ? e.message : String(e) }, 'first key listing failed'));
      }
      return await reconcileMember(m.value, this.deps());
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
          this.log.info({ item: key, err: e instanceof Error ? e.message : String(e) }, 'OpenRouter unavailable; retrying');
          return { retry: true };
        case 'error':
          throw e;
      }
    }
  }
}
