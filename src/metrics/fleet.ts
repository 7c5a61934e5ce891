/**
 * Pure: what the fleet's statuses say, as metric samples. Members, policies and models are read from the
 * statuses the operator already keeps, so a scrape costs no call to Kubernetes or OpenRouter.
 */
import { POLICY_DEFAULTS, resolvePolicy } from '../api/policy.ts';
import type { KeyPolicy, TeamMember } from '../api/schema.ts';
import { isTrue } from '../controller/conditions.ts';
import { addModels } from '../controller/member/analytics.ts';
import { budgetLevel } from '../controller/member/budget.ts';
import { usdShown } from '../util/money.ts';

export type Labels = Record<string, string>;
export interface Sample {
  labels: Labels;
  value: number;
}

export interface Fleet {
  policy: {
    members: Sample[];
    readyMembers: Sample[];
    spendUSD: Sample[];
    limitUSD: Sample[];
    /** members at or past warnAtPercent / at their limit, by state=warn|exhausted */
    budgetState: Sample[];
    forecastExhausting: Sample[];
    earliestKeyExpiry: Sample[];
    /** working keys that expire within 7 days, before their member ends, with their renewal over an hour late */
    renewalsOverdue: Sample[];
    /** the pool (spec.pool) per window, as the policy's status shows it */
    poolLimitUSD: Sample[];
    poolSpendUSD: Sample[];
    /** usage.warnAtPercent, so a per-member alert can compare against its own policy's threshold */
    warnPercent: Sample[];
  };
  model: { spendUSD: Sample[]; requests: Sample[] };
  member: {
    spendUSD: Sample[];
    limitUSD: Sample[];
    remainingUSD: Sample[];
    lifetimeUSD: Sample[];
    keyExpiry: Sample[];
    /** the member's own end (spec.expiresAt): a key that expires with its member is no surprise */
    memberExpiry: Sample[];
    exhaustsAt: Sample[];
    lastRotation: Sample[];
    /** 1 while a working key's rotation or renewal is over an hour late (on the operator's clock), else 0 */
    renewalOverdue: Sample[];
    ready: Sample[];
  };
  keysManaged: number;
  keysDraining: number;
  /** seconds since the oldest rotation in flight started issuing its key (0: none) */
  oldestRotationIssuingSeconds: number;
}

const seconds = (iso: string | undefined): number | undefined => {
  if (!iso) return undefined;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? undefined : ms / 1000;
};

/** How late a due rotation may be before its key counts as overdue (a full slot queue, a slow OpenRouter). */
const ROTATION_LATE_S = 3600;
/** How close an expiry must be for an overdue renewal to count (the alerts' 7 days). */
const EXPIRY_WARN_S = 7 * 86_400;

interface Aggregate {
  members: number;
  ready: number;
  spend: number;
  limit: number;
  warn: number;
  exhausted: number;
  forecast: number;
  expiry: number | undefined;
  overdue: number;
}

const emptyAggregate = (): Aggregate => ({ members: 0, ready: 0, spend: 0, limit: 0, warn: 0, exhausted: 0, forecast: 0, expiry: undefined, overdue: 0 });

/** `now` in ms; members terminating are left out of the aggregates (their keys are on the way out). */
export function fleet(members: readonly TeamMember[], policies: readonly KeyPolicy[], now: number): Fleet {
  const warnAt = new Map(policies.map((p) => [p.metadata.name, resolvePolicy(p).warnAtPercent]));
  const per = new Map<string, Aggregate>();
  const models = new Map<string, Map<string, { usd: number; requests: number }>>();
  const m: Fleet['member'] = { spendUSD: [], limitUSD: [], remainingUSD: [], lifetimeUSD: [], keyExpiry: [], memberExpiry: [], exhaustsAt: [], lastRotation: [], renewalOverdue: [], ready: [] };
  let keysManaged = 0;
  let keysDraining = 0;
  let oldestIssuing = 0;
  for (const p of policies) per.set(p.metadata.name, emptyAggregate());

  for (const tm of members) {
    const s = tm.status;
    const policy = tm.spec.policy;
    if (s?.key) keysManaged++;
    keysDraining += (s?.previousKeys ?? []).filter((p) => p.state === 'Draining').length;
    if (s?.pendingKey?.rotation) oldestIssuing = Math.max(oldestIssuing, now / 1000 - (seconds(s.pendingKey.since) ?? now / 1000));
    if (tm.metadata.deletionTimestamp) continue;
    const labels = { namespace: tm.metadata.namespace ?? '', member: tm.metadata.name, policy };
    const ready = isTrue(s?.conditions, 'Ready');
    const spend = s?.usage?.windowUSD;
    const limit = s?.budget?.limitUSD;
    const expiry = seconds(s?.key?.expiresAt);
    const exhausts = seconds(s?.usage?.forecast?.exhaustsAt);

    const agg = per.get(policy) ?? emptyAggregate();
    per.set(policy, agg);
    agg.members++;
    if (ready) agg.ready++;
    agg.spend += spend ?? 0;
    agg.limit += limit ?? 0;
    if (spend !== undefined) {
      const level = budgetLevel(spend, limit, warnAt.get(policy) ?? POLICY_DEFAULTS.warnAtPercent);
      if (level === 'exhausted') agg.exhausted++;
      else if (level === 'warn') agg.warn++;
    }
    if (isTrue(s?.conditions, 'BudgetForecast')) agg.forecast++;
    if (expiry !== undefined && !s?.inactive) agg.expiry = Math.min(agg.expiry ?? expiry, expiry);
    // a working key's rotation that is late, by the operator's clock (nextRotationAt is on it too); a disabled key
    // (suspended, idle) is not renewed and does not alert
    const next = seconds(s?.rotation?.nextRotationAt);
    const late = s?.key && !s.key.disabled && next !== undefined && now / 1000 - next > ROTATION_LATE_S;
    if (s?.key && !s.key.disabled) m.renewalOverdue.push({ labels, value: late ? 1 : 0 });
    const endsWithMember = expiry !== undefined && tm.spec.expiresAt !== undefined && expiry >= Date.parse(tm.spec.expiresAt) / 1000 - 60;
    if (late && expiry !== undefined && expiry > now / 1000 && expiry - now / 1000 < EXPIRY_WARN_S && !endsWithMember) agg.overdue++;
    const byModel = models.get(policy) ?? new Map<string, { usd: number; requests: number }>();
    models.set(policy, byModel);
    addModels(byModel, s?.usage?.models);

    m.ready.push({ labels, value: ready ? 1 : 0 });
    if (spend !== undefined) m.spendUSD.push({ labels, value: spend });
    if (limit !== undefined) m.limitUSD.push({ labels, value: limit });
    if (s?.budget?.remainingUSD !== undefined) m.remainingUSD.push({ labels, value: s.budget.remainingUSD });
    if (s?.usage) m.lifetimeUSD.push({ labels, value: s.usage.lifetimeUSD });
    if (expiry !== undefined) m.keyExpiry.push({ labels, value: expiry });
    const ends = seconds(tm.spec.expiresAt);
    if (ends !== undefined) m.memberExpiry.push({ labels, value: ends });
    if (exhausts !== undefined) m.exhaustsAt.push({ labels, value: exhausts });
    const rotated = seconds(s?.rotation?.lastRotatedAt);
    if (rotated !== undefined) m.lastRotation.push({ labels, value: rotated });
  }

  const pol: Fleet['policy'] = { members: [], readyMembers: [], spendUSD: [], limitUSD: [], budgetState: [], forecastExhausting: [], earliestKeyExpiry: [], renewalsOverdue: [], poolLimitUSD: [], poolSpendUSD: [], warnPercent: [] };
  for (const [policy, a] of per) {
    const labels = { policy };
    pol.members.push({ labels, value: a.members });
    pol.readyMembers.push({ labels, value: a.ready });
    pol.spendUSD.push({ labels, value: usdShown(a.spend) });
    pol.limitUSD.push({ labels, value: usdShown(a.limit) });
    pol.budgetState.push({ labels: { policy, state: 'warn' }, value: a.warn }, { labels: { policy, state: 'exhausted' }, value: a.exhausted });
    pol.forecastExhausting.push({ labels, value: a.forecast });
    if (a.expiry !== undefined) pol.earliestKeyExpiry.push({ labels, value: a.expiry });
    pol.renewalsOverdue.push({ labels, value: a.overdue });
    pol.warnPercent.push({ labels, value: warnAt.get(policy) ?? POLICY_DEFAULTS.warnAtPercent });
  }
  for (const p of policies) {
    for (const w of p.status?.pool?.windows ?? []) {
      const labels = { policy: p.metadata.name, window: w.window };
      pol.poolLimitUSD.push({ labels, value: w.limitUSD });
      pol.poolSpendUSD.push({ labels, value: w.spendUSD });
    }
  }
  const model: Fleet['model'] = { spendUSD: [], requests: [] };
  for (const [policy, byModel] of models) {
    for (const [name, e] of byModel) {
      model.spendUSD.push({ labels: { policy, model: name }, value: usdShown(e.usd) });
      model.requests.push({ labels: { policy, model: name }, value: e.requests });
    }
  }
  return { policy: pol, model, member: m, keysManaged, keysDraining, oldestRotationIssuingSeconds: Math.max(0, oldestIssuing) };
}
