import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface MetricSources {
  queueDepth(): number;
  rateLimitWaitMs(): number;
  leading(): boolean;
  clusterId(): string;
  managementKeyValid(): boolean;
  members(): { namespace: string; name: string; policy: string; hasKey: boolean; spentUSD?: number | undefined; limitUSD?: number | undefined; lastRotatedAt?: string | undefined; draining: number }[];
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
  readonly rotations: Counter<'trigger'>;
  readonly rotationEnds: Counter<'ended'>;
  readonly rotationDuration: Histogram<'ended'>;
  /** gauges computed at scrape time from the operator's caches */
  private readonly computed: (Gauge | Counter)[];

  constructor(src: MetricSources) {
    const r = this.registry;
    collectDefaultMetrics({ register: r, prefix: 'teamkeys_' });
    this.reconciles = new Counter({ name: 'teamkeys_reconcile_total', help: 'Reconciles by resource and result (done, requeue, retry, error).', labelNames: ['resource', 'result'], registers: [r] });
    this.reconcileDuration = new Histogram({ name: 'teamkeys_reconcile_duration_seconds', help: 'Reconcile duration.', labelNames: ['resource'], buckets: [0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [r] });
    this.openrouterCalls = new Counter({ name: 'teamkeys_openrouter_requests_total', help: 'OpenRouter management API calls by route and HTTP status (error = no response).', labelNames: ['route', 'code'], registers: [r] });
    this.openrouterDuration = new Histogram({ name: 'teamkeys_openrouter_request_duration_seconds', help: 'OpenRouter call duration.', labelNames: ['route'], buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [r] });
    this.rotations = new Counter({ name: 'teamkeys_rotations_total', help: 'Rotations whose new key reached the Secret, by trigger (Scheduled, Requested, Compromised).', labelNames: ['trigger'], registers: [r] });
    this.rotationEnds = new Counter({ name: 'teamkeys_rotation_overlaps_ended_total', help: 'Previous keys disabled, by why: rolled_out (every opted-in workload runs the new key), overlap (its end), stalled (its end, a workload had not rolled out), forced (suspended, expired, blocked).', labelNames: ['ended'], registers: [r] });
    this.rotationDuration = new Histogram({ name: 'teamkeys_rotation_duration_seconds', help: 'From the new key in the Secret to the previous key disabled.', labelNames: ['ended'], buckets: [1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600], registers: [r] });
    this.computed = [
      new Gauge({ name: 'teamkeys_queue_depth', help: 'Keys waiting in the work queue.', registers: [r], collect() { this.set(src.queueDepth()); } }),
      new Counter({ name: 'teamkeys_openrouter_rate_limit_wait_seconds_total', help: 'Time calls spent waiting for the shared OpenRouter rate limiter.', registers: [r], collect() { this.reset(); this.inc(src.rateLimitWaitMs() / 1000); } }),
      new Gauge({ name: 'teamkeys_leader', help: '1 while this replica holds the leader lease.', registers: [r], collect() { this.set(src.leading() ? 1 : 0); } }),
      new Gauge({ name: 'teamkeys_info', help: 'Always 1; cluster_id is the id in every key name this operator creates and sweeps.', labelNames: ['cluster_id'], registers: [r], collect() { this.reset(); const id = src.clusterId(); if (id) this.set({ cluster_id: id }, 1); } }),
      new Gauge({ name: 'teamkeys_management_key_valid', help: '1 while the management key is known to be a valid management key.', registers: [r], collect() { this.set(src.managementKeyValid() ? 1 : 0); } }),
      new Gauge({ name: 'teamkeys_keys_draining', help: 'Previous keys still working inside their rotation overlap.', registers: [r], collect() { this.set(src.members().reduce((sum, m) => sum + m.draining, 0)); } }),
      new Gauge({
        name: 'teamkeys_member_last_rotation_timestamp_seconds', help: "When a member's key last rotated (absent: never).", labelNames: ['namespace', 'member', 'policy'], registers: [r],
        collect() {
          this.reset();
          for (const m of src.members()) if (m.lastRotatedAt) this.set({ namespace: m.namespace, member: m.name, policy: m.policy }, Date.parse(m.lastRotatedAt) / 1000);
        },
      }),
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
