import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface MetricSources {
  queueDepth(): number;
  rateLimitWaitMs(): number;
  leading(): boolean;
  clusterId(): string;
  managementKeyValid(): boolean;
  members(): { namespace: string; name: string; policy: string; hasKey: boolean; spentUSD?: number | undefined; limitUSD?: number | undefined }[];
}

/**
 * The operator's Prometheus metrics. Labels never carry a key, a hash or a Secret value: only routes, status
 * codes, resource kinds and object names.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly reconciles: Counter<'resource' | 'result'>;
  readonly reconcileDuration: Histogram<'resource'>;
  readonly openrouterCalls: Counter<'route' | 'code'>;
  readonly openrouterDuration: Histogram<'route'>;
  /** gauges computed at scrape time from the operator's caches */
  private readonly computed: (Gauge | Counter)[];

  constructor(src: MetricSources) {
    const r = this.registry;
    collectDefaultMetrics({ register: r, prefix: 'teamkeys_' });
    this.reconciles = new Counter({ name: 'teamkeys_reconcile_total', help: 'Reconciles by resource and result (done, requeue, retry, error).', labelNames: ['resource', 'result'], registers: [r] });
    this.reconcileDuration = new Histogram({ name: 'teamkeys_reconcile_duration_seconds', help: 'Reconcile duration.', labelNames: ['resource'], buckets: [0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [r] });
    this.openrouterCalls = new Counter({ name: 'teamkeys_openrouter_requests_total', help: 'OpenRouter management API calls by route and HTTP status (error = no response).', labelNames: ['route', 'code'], registers: [r] });
    this.openrouterDuration = new Histogram({ name: 'teamkeys_openrouter_request_duration_seconds', help: 'OpenRouter call duration.', labelNames: ['route'], buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [r] });
    this.computed = [
      new Gauge({ name: 'teamkeys_queue_depth', help: 'Keys waiting in the work queue.', registers: [r], collect() { this.set(src.queueDepth()); } }),
      new Counter({ name: 'teamkeys_openrouter_rate_limit_wait_seconds_total', help: 'Time calls spent waiting for the shared OpenRouter rate limiter.', registers: [r], collect() { this.reset(); this.inc(src.rateLimitWaitMs() / 1000); } }),
      new Gauge({ name: 'teamkeys_leader', help: '1 while this replica holds the leader lease.', registers: [r], collect() { this.set(src.leading() ? 1 : 0); } }),
      new Gauge({ name: 'teamkeys_info', help: 'Always 1; cluster_id is the id in every key name this operator creates and sweeps.', labelNames: ['cluster_id'], registers: [r], collect() { this.reset(); const id = src.clusterId(); if (id) this.set({ cluster_id: id }, 1); } }),
      new Gauge({ name: 'teamkeys_management_key_valid', help: '1 while the management key is known to be a valid management key.', registers: [r], collect() { this.set(src.managementKeyValid() ? 1 : 0); } }),
      new Gauge({ name: 'teamkeys_keys_managed', help: 'TeamMembers that have an OpenRouter key.', registers: [r], collect() { this.set(src.members().filter((m) => m.hasKey).length); } }),
      new Gauge({
        name: 'teamkeys_member_spend_usd', help: "A member's spend in the current reset window.", labelNames: ['namespace', 'member', 'policy'], registers: [r],
        collect() {
          this.reset();
          for (const m of src.members()) if (m.spentUSD !== undefined) this.set({ namespace: m.namespace, member: m.name, policy: m.policy }, m.spentUSD);
        },
      }),
      new Gauge({
        name: 'teamkeys_member_limit_usd', help: "A member's limit per reset window (absent: no cap).", labelNames: ['namespace', 'member', 'policy'], registers: [r],
        collect() {
          this.reset();
          for (const m of src.members()) if (m.limitUSD !== undefined) this.set({ namespace: m.namespace, member: m.name, policy: m.policy }, m.limitUSD);
        },
      }),
    ];
  }
}
