import { performance } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { RotationTrigger, type KeyPolicy, type TeamMember } from '../api/schema.ts';
import type { MemberDeps } from '../controller/member/deps.ts';
import { exposition, type Family } from './exposition.ts';
import { fleet, type Fleet, type Sample } from './fleet.ts';

/** Why a previous key was disabled (teamkeys_rotation_overlaps_ended_total{ended}). */
const OVERLAP_ENDS = ['rolled_out', 'overlap', 'stalled', 'forced'] as const satisfies readonly Parameters<MemberDeps['observe']['overlapEnded']>[0][];

export interface MetricSources {
  queueDepth(): number;
  rateLimitWaitMs(): number;
  /** workload restarts waiting for their turn (controller/restartline.ts) */
  restartsQueued(): number;
  /** writes sent to the Kubernetes API server, by what they were */
  kubernetesWrites(): ReadonlyMap<string, number>;
  kubernetesReads(): ReadonlyMap<string, number>;
  /** the calls per second the adaptive limiter allows now, and how often a 429 cut it */
  rateLimit(): { perSecond: number; cuts: number };
  leading(): boolean;
  clusterId(): string;
  managementKeyValid(): boolean;
  members(): readonly TeamMember[];
  policies(): readonly KeyPolicy[];
  /** the operator's clock, ms */
  now(): number;
  /** --member-metrics: one series per member (spend, limit, remaining, expiry, forecast, rotation, ready) */
  memberMetrics: boolean;
}

/** A registry whose text ends with families rendered outside prom-client's metric objects (the per-member ones). */
class FleetRegistry extends Registry {
  tail: (() => string) | undefined;

  override async metrics(): Promise<string> {
    const head = await super.metrics();
    const tail = this.tail?.();
    return tail ? `${head}\n${tail}` : head;
  }
}

/** The per-member families (--member-metrics): one sample per member each, rendered by exposition(). */
function memberFamilies(m: Fleet['member']): Family[] {
  const gauge = (name: string, help: string, samples: Sample[]): Family => ({ name, help, type: 'gauge', samples });
  return [
    gauge('teamkeys_member_spend_usd', "A member's spend in the current reset window.", m.spendUSD),
    gauge('teamkeys_member_limit_usd', "A member's limit per reset window (absent: no cap).", m.limitUSD),
    gauge('teamkeys_member_remaining_usd', "What a member may still spend in the window, as OpenRouter reports it.", m.remainingUSD),
    gauge('teamkeys_member_key_expiry_timestamp_seconds', "When a member's active key expires (absent: it does not).", m.keyExpiry),
    gauge('teamkeys_member_expiry_timestamp_seconds', "When the member itself ends (spec.expiresAt; absent: never).", m.memberExpiry),
    gauge('teamkeys_member_budget_exhausts_timestamp_seconds', "When a member's budget runs out at the window's burn rate (absent: not before the reset).", m.exhaustsAt),
    gauge('teamkeys_member_last_rotation_timestamp_seconds', "When a member's key last rotated (absent: never).", m.lastRotation),
    gauge('teamkeys_member_renewal_overdue', "1 while a member's working key is over an hour past its due rotation or renewal ahead of expiry (on the operator's clock).", m.renewalOverdue),
    gauge('teamkeys_member_ready', "1 while a member's Ready condition is True.", m.ready),
    { name: 'teamkeys_member_spend_usd_total', help: "A member's all-time spend on its current key, BYOK included (resets when the key is replaced; rate() handles that).", type: 'counter', samples: m.lifetimeUSD },
  ];
}

/**
 * The operator's Prometheus metrics. Labels never carry a key, a hash or a Secret value: only routes, status
 * codes, resource kinds and object names.
 */
export class Metrics {
  readonly registry = new FleetRegistry();
  readonly reconciles: Counter<'resource' | 'result'>;
  readonly reconcileDuration: Histogram<'resource'>;
  readonly openrouterCalls: Counter<'route' | 'code'>;
  readonly openrouterDuration: Histogram<'route'>;
  readonly rotations: Counter<'trigger'>;
  readonly rotationEnds: Counter<'ended'>;
  readonly rotationDuration: Histogram<'ended'>;
  readonly analyticsRowsSkipped: Counter;
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
    this.analyticsRowsSkipped = new Counter({ name: 'teamkeys_analytics_rows_skipped_total', help: 'Rows of OpenRouter usage analytics skipped because a value had the wrong shape (the rest of each answer is kept).', registers: [r] });
    // every known label set starts at 0, so rate() and increase() see the first error, stall or rotation (a
    // series born at 1 has no sample to rise from) and a dashboard has its series before anything happens
    for (const resource of ['teammember', 'keypolicy', 'workload']) {
      for (const result of ['done', 'requeue', 'retry', 'error']) this.reconciles.inc({ resource, result }, 0);
      this.reconcileDuration.zero({ resource });
    }
    for (const trigger of RotationTrigger.options) this.rotations.inc({ trigger }, 0);
    for (const ended of OVERLAP_ENDS) {
      this.rotationEnds.inc({ ended }, 0);
      this.rotationDuration.zero({ ended });
    }
    // one pass over the statuses per scrape, shared by every gauge below (a scrape collects them within milliseconds)
    let cached: { at: number; fleet: Fleet } | undefined;
    const snap = (): Fleet => {
      const at = performance.now();
      if (!cached || at - cached.at > 200) {
        cached = { at, fleet: fleet(src.members(), src.policies(), src.now()) };
        // let go of it once the scrape is over: at 10,000 members it is a few MB held until the next one
        setTimeout(() => {
          if (cached?.at === at) cached = undefined;
        }, 1_000).unref();
      }
      return cached.fleet;
    };
    const series = (name: string, help: string, labelNames: string[], pick: (f: Fleet) => Sample[]) => new Gauge({
      name, help, labelNames, registers: [r],
      collect() {
        this.reset();
        for (const x of pick(snap())) this.set(x.labels, x.value);
      },
    });
    this.computed = [
      new Gauge({ name: 'teamkeys_queue_depth', help: 'Keys waiting in the work queue.', registers: [r], collect() { this.set(src.queueDepth()); } }),
      new Gauge({ name: 'teamkeys_workload_restarts_queued', help: 'Workload restarts for a new key waiting for their turn under the restart bounds (--restarts-per-minute, --namespace-restarts-per-minute).', registers: [r], collect() { this.set(src.restartsQueued()); } }),
      new Counter({ name: 'teamkeys_openrouter_rate_limit_wait_seconds_total', help: 'Time calls spent waiting for the shared OpenRouter rate limiter.', registers: [r], collect() { this.reset(); this.inc(src.rateLimitWaitMs() / 1000); } }),
      new Counter({
        name: 'teamkeys_kubernetes_writes_total', help: 'Writes sent to the Kubernetes API server, by what they were (member status, TeamMember finalizers, Secret create, Event, ...; dry runs included).', labelNames: ['write'], registers: [r],
        collect() {
          this.reset();
          for (const [write, n] of src.kubernetesWrites()) this.inc({ write }, n);
        },
      }),
      new Counter({
        name: 'teamkeys_kubernetes_reads_total', help: 'Single-object reads (GET) sent to the Kubernetes API server, by kind (informers\' lists and watches not counted).', labelNames: ['read'], registers: [r],
        collect() {
          this.reset();
          for (const [read, n] of src.kubernetesReads()) this.inc({ read }, n);
        },
      }),
      new Gauge({ name: 'teamkeys_openrouter_rate_limit_per_second', help: 'The OpenRouter calls per second the operator allows itself now: the configured ceiling, lowered after 429s and grown back slowly.', registers: [r], collect() { this.set(src.rateLimit().perSecond); } }),
      new Counter({ name: 'teamkeys_openrouter_rate_limit_cuts_total', help: 'Times a 429 from OpenRouter lowered the allowed call rate.', registers: [r], collect() { this.reset(); this.inc(src.rateLimit().cuts); } }),
      new Gauge({ name: 'teamkeys_leader', help: '1 while this replica holds the leader lease.', registers: [r], collect() { this.set(src.leading() ? 1 : 0); } }),
      new Gauge({ name: 'teamkeys_info', help: 'Always 1; cluster_id is the id in every key name this operator creates and sweeps.', labelNames: ['cluster_id'], registers: [r], collect() { this.reset(); const id = src.clusterId(); if (id) this.set({ cluster_id: id }, 1); } }),
      new Gauge({ name: 'teamkeys_management_key_valid', help: '1 while the management key is known to be a valid management key.', registers: [r], collect() { this.set(src.managementKeyValid() ? 1 : 0); } }),
      new Gauge({ name: 'teamkeys_keys_draining', help: 'Previous keys still working inside their rotation overlap.', registers: [r], collect() { this.set(snap().keysDraining); } }),
      new Gauge({ name: 'teamkeys_keys_managed', help: 'TeamMembers that have an OpenRouter key.', registers: [r], collect() { this.set(snap().keysManaged); } }),
      new Gauge({ name: 'teamkeys_rotation_oldest_issuing_seconds', help: 'How long the oldest rotation in flight has been issuing its new key (0: none). A rotation normally issues in seconds.', registers: [r], collect() { this.set(snap().oldestRotationIssuingSeconds); } }),
      series('teamkeys_policy_members', 'TeamMembers naming the policy (terminating ones left out).', ['policy'], (f) => f.policy.members),
      series('teamkeys_policy_ready_members', 'Of those, members whose Ready condition is True.', ['policy'], (f) => f.policy.readyMembers),
      series('teamkeys_policy_spend_usd', "The policy's members' spend in their current reset windows.", ['policy'], (f) => f.policy.spendUSD),
      series('teamkeys_policy_limit_usd', "The sum of the policy's members' limits per window (members without a cap add 0).", ['policy'], (f) => f.policy.limitUSD),
      series('teamkeys_policy_members_budget', 'Members at their warning threshold (state=warn: usage.warnAtPercent or more) or at their limit (state=exhausted).', ['policy', 'state'], (f) => f.policy.budgetState),
      series('teamkeys_policy_budget_warn_percent', "The policy's usage.warnAtPercent: the share of a member's limit at which it is warned.", ['policy'], (f) => f.policy.warnPercent),
      series('teamkeys_policy_members_forecast_exhausting', 'Members whose budget is forecast to run out before their window resets (BudgetForecast=True).', ['policy'], (f) => f.policy.forecastExhausting),
      series('teamkeys_policy_earliest_key_expiry_timestamp_seconds', "The earliest expires_at of the policy's active keys (absent: none expires).", ['policy'], (f) => f.policy.earliestKeyExpiry),
      series('teamkeys_policy_pool_limit_usd', "The policy's pooled cap per window (spec.pool), set as its workspace's budget.", ['policy', 'window'], (f) => f.policy.poolLimitUSD),
      series('teamkeys_policy_pool_spend_usd', "The policy's members' spend in each pool window, as their statuses report it.", ['policy', 'window'], (f) => f.policy.poolSpendUSD),
      series('teamkeys_policy_renewals_overdue', "The policy's working keys that expire within 7 days, before their member ends, while their renewal is over an hour late (on the operator's clock).", ['policy'], (f) => f.policy.renewalsOverdue),
      series('teamkeys_model_spend_usd', "Spend per model of the policy's members in their current windows (each member's top models).", ['policy', 'model'], (f) => f.model.spendUSD),
      series('teamkeys_model_requests', "Requests per model of the policy's members in their current windows (each member's top models).", ['policy', 'model'], (f) => f.model.requests),
    ];
    if (src.memberMetrics) this.registry.tail = () => exposition(memberFamilies(snap().member));
  }

  /**
   * Drops the series computed at the last scrape (each is computed again at the next); the per-member families are
   * not held at all (FleetRegistry renders them at each scrape).
   */
  releaseSeries(): void {
    for (const m of this.computed) m.reset();
  }

}
