import { z } from 'zod';
import type { OffsetClock } from '../../util/clock.ts';
import { workspaceSpend } from '../budgets.ts';
import { findModel } from '../catalog.ts';
import { HttpError } from '../errors.ts';
import { FaultRuleSchema, type Faults } from '../faults.ts';
import { RateLimitSchema, type ManagementRateLimit } from '../ratelimit.ts';
import { AnalyticsSettingsSchema, type AnalyticsSettings } from './analytics.ts';
import { ok, parse, type Route } from '../router.ts';
import type { Store } from '../store.ts';
import { guardrailView, keyView } from '../views.ts';

/** Test controls live under their own prefix and are never mixed into OpenRouter's paths. */
const CONTROL_PREFIX = '/_emulator';

export interface ControlDeps {
  store: Store;
  faults: Faults;
  rateLimit: ManagementRateLimit;
  analytics: { get(): AnalyticsSettings; set(a: AnalyticsSettings): void };
  clock: OffsetClock;
  counters(): Record<string, Record<string, number>>;
  reset(): void;
}

const ClockBody = z.union([
  z.object({ set: z.iso.datetime({ offset: true }) }),
  z.object({ advanceSeconds: z.number() }),
  z.object({ real: z.literal(true) }),
]);
const SpendBody = z.object({ usd: z.number().positive().max(1_000_000), byok: z.boolean().optional(), model: z.string().optional() });
const FaultsBody = z.object({ rules: z.array(FaultRuleSchema), seed: z.int().optional() });

export function controlRoutes(d: ControlDeps): Route[] {
  const snapshot = () => {
    const now = d.store.now();
    const assignment = (hash: string) => d.store.state.keyAssignments.find((a) => a.target === hash)?.guardrailId ?? null;
    return {
      now: new Date(now).toISOString(),
      keys: d.store.state.keys.filter((k) => !k.management).map((k) => ({ ...keyView(k, now), guardrail_id: assignment(k.hash) })),
      guardrails: d.store.state.guardrails.map(guardrailView),
      // what each workspace's keys spent per budget window: OpenRouter's budget objects carry only the limit
      workspaces: d.store.state.workspaces.map((w) => ({
        id: w.id, slug: w.slug, include_byok_in_budgets: w.includeByokInBudgets ?? false,
        budgets: Object.fromEntries(Object.entries(w.budgets ?? {}).map(([i, b]) => [i, b.limitUsd])),
        spend: workspaceSpend(w, d.store.state.activity, now),
      })),
      faults: d.faults.list(),
      rate_limit: d.rateLimit.current ?? null,
      analytics: d.analytics.get(),
      counters: d.counters(),
    };
  };
  const route = (method: string, path: string, handle: Route['handle']): Route => ({ method, path: CONTROL_PREFIX + path, auth: 'none', control: true, handle });
  return [
    route('GET', '/state', () => ok(snapshot())),
    route('GET', '/counters', () => ok(d.counters())),
    route('POST', '/clock', async ({ json }) => {
      const b = parse(ClockBody, await json());
      if ('set' in b) d.clock.set(Date.parse(b.set));
      else if ('advanceSeconds' in b) d.clock.advance(b.advanceSeconds * 1000);
      else d.clock.reset();
      return ok({ now: new Date(d.clock.now()).toISOString() });
    }),
    route('POST', '/keys/:hash/spend', async ({ params, json }) => {
      const b = parse(SpendBody, await json());
      const model = b.model === undefined ? undefined : findModel(b.model);
      if (b.model !== undefined && !model) throw new HttpError(400, `unknown model ${b.model}`);
      const key = d.store.getKey(params['hash'] ?? '');
      d.store.spend(key, { usd: b.usd, byok: b.byok ?? false, model });
      return ok({ data: keyView(key, d.store.now()) });
    }),
    // a workspace's default guardrail is edited in OpenRouter's dashboard; tests set its rules here
    route('PUT', '/workspaces/:id/default-guardrail', async ({ params, json }) => {
      const w = d.store.workspace(params['id']);
      w.defaultGuardrail = parse(z.record(z.string(), z.unknown()), await json());
      return ok({ data: w.defaultGuardrail });
    }),
    route('PUT', '/faults', async ({ json }) => {
      const b = parse(FaultsBody, await json());
      d.faults.set(b.rules, b.seed);
      return ok({ rules: d.faults.list() });
    }),
    route('DELETE', '/faults', () => {
      d.faults.clear();
      return ok({ rules: [] });
    }),
    // OpenRouter's rate limit on the management API: 429 + Retry-After beyond perSecond (burst: one second's worth)
    route('PUT', '/rate-limit', async ({ json }) => {
      d.rateLimit.set(parse(RateLimitSchema, await json()));
      return ok({ rate_limit: d.rateLimit.current });
    }),
    route('DELETE', '/rate-limit', () => {
      d.rateLimit.set(undefined);
      return ok({ rate_limit: null });
    }),
    // how analytics answers: fields left out of the body return to the real service's defaults
    route('GET', '/analytics', () => ok(d.analytics.get())),
    route('PUT', '/analytics', async ({ json }) => {
      d.analytics.set(parse(AnalyticsSettingsSchema, await json()));
      return ok(d.analytics.get());
    }),
    route('POST', '/reset', () => {
      d.reset();
      return ok(snapshot());
    }),
  ];
}
