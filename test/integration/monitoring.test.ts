/**
 * deploy/monitoring against the real things: the ServiceMonitor and PrometheusRule validated by the real
 * prometheus-operator CRD schemas in the API server, and a real Prometheus scraping the operator (every 1s) while
 * members spend, rotate and hit 429s, answering every dashboard query and rule expression, and firing the
 * alerts this test provokes.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { z } from 'zod';
import { findModel } from '../../src/emulator/catalog.ts';
import { startProbeServer } from '../../src/metrics/server.ts';
import { nextReset, windowStart } from '../../src/util/windows.ts';
import { loadDashboard, panelQueries, substitute } from '../monitoring/dashboard.ts';
import { JOB, MONITORING_DIR, ruleSpec, startPrometheus, type Alert, type Prometheus, type Sample } from '../monitoring/prometheus.ts';
import { MERGE, eventually } from './kube.ts';
import { startEnv, type Env } from './env.ts';
import { expectNoKeyStrings } from './scan.ts';
import { aMember, aPolicy } from '../kit/objects.ts';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const DAY = 86_400_000;
const MINUTE = 60_000;
/** a run that starts this close to the end of a month moves the shared clock into the next one: see beforeAll */
const MONTH_END_MARGIN = 5 * 60 * MINUTE;

let env: Env;
let prom: Prometheus;
let probes: Server;
let dir = '';
let a = '';
let b = '';
let policy = '';
let ttlPolicy = '';
/** what dan spent, and when on the shared clock: the dashboard's expectations are computed from them */
let dan = { usd: 0, at: 0, windowEnd: 0 };

const hashOf = async (ns: string, name: string) => (await env.member(ns, name)).status?.key?.hash ?? '';
const spend = async (ns: string, name: string, usd: number, model: string) => {
  env.emu.store.spend(env.emu.store.getKey(await hashOf(ns, name)), { usd, model: findModel(model) });
};
/** Polls a query until every series it answers carries `labels` and at least one has a number. */
const answered = (expr: string, labels: string[] = [], what = expr, timeoutMs = 30_000) => eventually(async () => {
  const r = await prom.query(expr);
  return r.length > 0 && r.every((s) => labels.every((l) => (s.metric[l] ?? '') !== '')) && r.some((s) => Number.isFinite(Number(s.value[1]))) ? r : undefined;
}, timeoutMs, `${what} answered with series carrying ${labels.join(', ') || 'any labels'}`);
const firing = (name: string, match: Record<string, string> = {}) => eventually(async () => {
  const all = await prom.alerts();
  return all.find((x) => x.state === 'firing' && x.labels['alertname'] === name && Object.entries(match).every(([k, v]) => x.labels[k] === v));
}, 30_000, `alert ${name} ${JSON.stringify(match)} firing`);
const names = (alerts: Alert[]) => new Set(alerts.map((x) => x.labels['alertname'] ?? ''));
/**
 * How far the operator's and OpenRouter's clock (env.clock) is ahead of Prometheus's. Prometheus evaluates time()
 * on the wall clock, and the rules compare it with timestamps the operator wrote on its clock, so this test cannot
 * pin env.clock to a fixed date: it keeps it on the wall clock (0 here) except near the end of a month, and every
 * expectation that mixes the two clocks allows for the difference.
 */
const ahead = () => env.clock.now() - Date.now();
/** Seconds in a duration as Prometheus's humanizeDuration prints it: 2d 23h 59m 3s, 3d 0h 5m 1s, ... */
const humanSeconds = (text: string) => {
  const m = /(?:(\d+)d )?(?:(\d+)h )?(?:(\d+)m )?([\d.]+)s/.exec(text);
  return m ? Number(m[1] ?? 0) * 86_400 + Number(m[2] ?? 0) * 3_600 + Number(m[3] ?? 0) * 60 + Number(m[4]) : Number.NaN;
};

beforeAll(async () => {
  env = await startEnv();
  // dan's spend below is measured against his monthly window: on any date it is the same fraction of what is left
  // of the window, so the outcome does not depend on the date. Only a window about to end (the test would cross
  // the reset, or dan's forecast would fall due before the alerts are read) is avoided, by starting in the next
  // month: the shared clock moves at most MONTH_END_MARGIN ahead of the wall clock.
  const reset = nextReset('monthly', env.clock.now());
  if (reset - env.clock.now() < MONTH_END_MARGIN) env.clock.set(reset + MINUTE);
  probes = await startProbeServer(0, '127.0.0.1', env.op.metrics.registry, { healthy: () => env.op.healthy(), notReady: () => env.op.notReady() }, () => env.op.metrics.releaseSeries());
  const address = probes.address();
  const port = address && typeof address === 'object' ? address.port : 0;
  dir = await mkdtemp(join(tmpdir(), 'teamkeys-prometheus-'));
  // the labels prometheus-operator's service discovery gives a ServiceMonitor target; alerts fire without waiting
  // out their for: (promtool tests those)
  prom = await startPrometheus({ dir, targets: [{ port, labels: { namespace: env.system, service: 'teamkeys-metrics', pod: 'teamkeys-operator-0', endpoint: 'metrics' } }], forOverride: '0s' });
  a = await env.newNamespace('mon-a');
  b = await env.newNamespace('mon-b');
  policy = `mon-${a}`;
  ttlPolicy = `mon-ttl-${a}`;
}, 120_000);
afterAll(async () => {
  await prom?.stop();
  if (probes?.listening) probes.close();
  await env?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the ServiceMonitor and PrometheusRule', () => {
  const kubectl = async (args: string[], input?: string) => (await env.kubectl(args, input)).stdout;

  it('select the operator Service by its labels and port name', async () => {
    const docs = (out: string) => parseAllDocuments(out).map((d) => z.object({ kind: z.string(), metadata: z.object({ name: z.string(), namespace: z.string().optional(), labels: z.record(z.string(), z.string()).optional() }), spec: z.unknown().optional() }).parse(d.toJSON()));
    const service = docs(await kubectl(['kustomize', join(ROOT, 'deploy')])).find((d) => d.kind === 'Service');
    const monitor = docs(await kubectl(['kustomize', MONITORING_DIR])).find((d) => d.kind === 'ServiceMonitor');
    const svc = z.object({ ports: z.array(z.object({ name: z.string() })) }).parse(service?.spec);
    const sm = z.object({ jobLabel: z.string(), selector: z.object({ matchLabels: z.record(z.string(), z.string()) }), endpoints: z.array(z.object({ port: z.string(), honorLabels: z.boolean() })) }).parse(monitor?.spec);
    expect(monitor?.metadata.namespace).toBe(service?.metadata.namespace);
    expect(service?.metadata.labels).toMatchObject(sm.selector.matchLabels);
    // the job the rules (and this test's Prometheus) name is the value of the Service's jobLabel label
    expect(service?.metadata.labels?.[sm.jobLabel]).toBe(JOB);
    expect((await ruleSpec()).groups.flatMap((g) => g.rules).find((r) => r.alert === 'TeamkeysOperatorDown')?.expr).toContain(`up{job="${JOB}"}`);
    expect(sm.endpoints.map((e) => e.port)).toEqual(svc.ports.map((p) => p.name));
    expect(sm.endpoints.every((e) => e.honorLabels)).toBe(true);
  });

  it('are accepted by the prometheus-operator CRDs (server-side validation), which do refuse a bad rule', async () => {
    const crds = (await run('bash', [join(ROOT, 'hack/monitoring-crds.sh')], { cwd: ROOT })).stdout.trim();
    for (const f of ['monitoring.coreos.com_servicemonitors.yaml', 'monitoring.coreos.com_prometheusrules.yaml']) {
      await kubectl(['apply', '--server-side', '--force-conflicts', '-f', join(crds, f)]);
    }
    await kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/servicemonitors.monitoring.coreos.com', 'crd/prometheusrules.monitoring.coreos.com']);
    const ns = await env.newNamespace('mon-crd');
    // the kustomization's objects, in a namespace of this test
    const objects = parseAllDocuments(await kubectl(['kustomize', MONITORING_DIR])).map((d) => {
      const o = z.object({ metadata: z.object({ namespace: z.string().optional() }).loose() }).loose().parse(d.toJSON());
      o.metadata.namespace = ns;
      return stringify(o);
    });
    expect(objects).toHaveLength(2);
    const out = await kubectl(['apply', '--server-side', '-f', '-'], objects.join('---\n'));
    expect(out).toMatch(/servicemonitor.monitoring.coreos.com\/teamkeys-operator serverside-applied/);
    expect(out).toMatch(/prometheusrule.monitoring.coreos.com\/teamkeys serverside-applied/);
    const stored = z.object({ spec: z.object({ groups: z.array(z.object({ rules: z.array(z.unknown()) })) }) }).parse(JSON.parse(await kubectl(['get', 'prometheusrule', 'teamkeys', '-n', ns, '-o', 'json'])));
    expect(stored.spec.groups.flatMap((g) => g.rules)).toHaveLength((await ruleSpec()).groups.flatMap((g) => g.rules).length);
    // the schema is really enforced: a for: that is no duration is refused
    const bad = `apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata: {name: bad, namespace: ${ns}}\nspec:\n  groups: [{name: g, rules: [{alert: A, expr: up == 0, for: five minutes}]}]\n`;
    await expect(kubectl(['apply', '--server-side', '-f', '-'], bad)).rejects.toThrow(/spec.groups\[0\].rules\[0\].for/);
  });
});

describe('a real Prometheus scraping the operator', () => {
  it('sees members spend, rotate and hit 429s, and the member series keep their own namespace', async () => {
    // $10 a month, warned at half
    await env.apply(aPolicy(policy, { budget: { limitUSD: 10, reset: 'monthly' }, usage: { warnAtPercent: 50 }, rotation: { overlap: '0s' } }));
    // keys that live 4 hours, renewed 2 hours ahead: eli's key ends before eli does; cat's ends with cat (a
    // workshop's last day). eli's team pools its budget (the pool series)
    await env.apply(aPolicy(ttlPolicy, { keyTTL: '4h', renewBefore: '2h', pool: { monthly: 1000 } }));
    const expiresAt = new Date(env.clock.now() + 3 * DAY).toISOString().replace(/\.\d+Z$/, 'Z');
    await env.apply([aMember(a, 'ann', policy), aMember(a, 'bob', policy), aMember(b, 'cat', { policy, expiresAt }), aMember(b, 'dan', policy), aMember(b, 'eli', ttlPolicy)]);
    for (const [ns, n] of [[a, 'ann'], [a, 'bob'], [b, 'cat'], [b, 'dan'], [b, 'eli']] as const) await env.ready(ns, n);

    // traffic through the emulator's chat endpoint with the keys from the Secrets, on two models
    for (const [ns, n] of [[a, 'ann'], [a, 'bob'], [b, 'cat']] as const) {
      const key = (await env.secretData(ns, `${n}-openrouter`))['OPENROUTER_API_KEY'] ?? '';
      for (const model of ['openai/gpt-4o-mini', 'anthropic/claude-3.5-sonnet']) expect((await env.chat(key, model)).status).toBe(200);
    }
    // bob past the warning (60%); dan on course to run out before the month ends: at his rate so far the $10
    // last until halfway between now and the reset (the window and now on the clock the operator reads)
    await spend(a, 'bob', 6, 'openai/gpt-4o-mini');
    const now = env.clock.now();
    const windowEnd = nextReset('monthly', now);
    // the forecast takes the window as at least an hour old
    const elapsed = Math.max(now - windowStart('monthly', now), 3_600_000);
    dan = { usd: (10 * elapsed) / (elapsed + (windowEnd - now) / 2), at: now, windowEnd };
    await spend(b, 'dan', dan.usd, 'anthropic/claude-3.5-sonnet');
    await env.op.sync();
    await env.settled();

    // Prometheus has the spend of each member, labelled with the member's namespace (honor_labels)
    const who = (r: Sample[]) => r.map((s) => `${s.metric['namespace'] ?? ''}/${s.metric['member'] ?? ''}`).toSorted().join(' ');
    const members = await eventually(async () => {
      const r = await prom.query(`teamkeys_member_spend_usd{policy="${policy}"}`);
      return who(r) === `${a}/ann ${a}/bob ${b}/cat ${b}/dan` ? r : undefined;
    }, 30_000, 'the spend of ann, bob, cat and dan, each in its own namespace');
    expect(members.every((s) => s.metric['exported_namespace'] === undefined && s.metric['policy'] === policy)).toBe(true);
    expect((await answered(`teamkeys_leader`))[0]?.metric['namespace']).toBe(env.system);

    // a rotation on demand
    await env.kubectl(['annotate', 'tm', 'bob', '-n', a, '--overwrite', 'teamkeys.dev/rotate=monitoring']);
    await eventually(async () => ((await env.member(a, 'bob')).status?.rotation?.count ?? 0) >= 1 || undefined, 20_000, 'bob rotated');
    await answered('teamkeys_rotations_total{trigger="Requested"} > 0', ['trigger']);

    // OpenRouter answers 429 twice, on two syncs, so rate() has an increase to see
    for (const seen of [1, 2]) {
      env.emu.faults.set([{ route: 'GET /api/v1/keys', kind: 'rateLimit', times: 1, probability: 1, status: 429, latencyMs: 0, retryAfterSeconds: 1 }]);
      await env.op.sync();
      await answered(`sum(teamkeys_openrouter_requests_total{code="429"}) >= ${seen}`);
    }
    env.emu.faults.clear();

    // ann was quiet; then her key spends $12 at once: past her limit, and far past her own norm
    await answered(`teamkeys_member_spend_usd_total{member="ann",policy="${policy}"}`);
    await spend(a, 'ann', 12, 'openai/gpt-4o-mini');
    await env.op.sync();
    await env.settled();
    await answered(`teamkeys_member_spend_usd{member="ann",policy="${policy}"} >= 10`);
  });

  it('answers every query of the dashboard with series carrying the labels its legend shows', async () => {
    const d = await loadDashboard();
    expect(d.schemaVersion).toBeGreaterThanOrEqual(39);
    const vars = new Map(d.templating.list.map((v) => [v.name, v]));
    expect(vars.get('datasource')?.type).toBe('datasource');
    // the variables' queries: label_values(metric, label) is /api/v1/label/<label>/values?match[]=<metric>
    for (const [name, want] of [['policy', policy], ['namespace', a]] as const) {
      const m = /^label_values\((.+), (\w+)\)$/.exec(vars.get(name)?.definition ?? '');
      expect(m?.[2], `variable ${name}`).toBe(name);
      await eventually(async () => (await prom.labelValues(m?.[2] ?? '', substitute(m?.[1] ?? '', '1m'))).includes(want) || undefined, 30_000, `variable ${name} offers ${want}`);
    }
    const queries = panelQueries(d);
    expect(queries.length).toBeGreaterThan(25);
    let series = 0;
    const unanswered: string[] = [];
    for (const q of queries) {
      expect(q.datasource, `${q.panel} ${q.refId} uses the datasource variable`).toBe('${datasource}');
      // every failure at once: each query gets its own deadline (the data is there: the traffic above waited for it)
      await answered(substitute(q.expr, '1m'), q.labels, `panel "${q.panel}" ${q.refId}`, 5_000).then((r) => (series += r.length), (e: unknown) => unanswered.push(String(e)));
    }
    expect(unanswered).toEqual([]);
    // the panels that need this test's traffic have it
    const has = async (expr: string, match: (s: Sample) => boolean) => expect((await prom.query(substitute(expr, '1m'))).some(match), expr).toBe(true);
    const expr = (title: string, ref = 'A') => queries.find((q) => q.panel === title && q.refId === ref)?.expr ?? `missing panel ${title}`;
    await has(expr('Top models by spend'), (s) => s.metric['model'] === 'anthropic/claude-3.5-sonnet-20241022'); // by permaslug, as OpenRouter names models
    // b's spend is what OpenRouter counted for cat's and dan's keys this month (dan's share of it depends on the
    // date: computed above from the shared clock)
    expect(dan.usd).toBeGreaterThan(0);
    const keyUsage = async (name: string) => env.emu.store.getKey(await hashOf(b, name)).usage;
    const inB = (await keyUsage('cat')) + (await keyUsage('dan'));
    expect(inB).toBeGreaterThanOrEqual(dan.usd);
    await has(expr('Spend this window by namespace'), (s) => s.metric['namespace'] === b && Math.abs(Number(s.value[1]) - inB) < 1e-5);
    // from halfway between when dan spent and the reset (to the minute; the operator read the spend a moment later,
    // so a little after), and before the reset
    const half = dan.at + (dan.windowEnd - dan.at) / 2;
    await has(expr('When budgets run out'), (s) => s.metric['member'] === 'dan' && Number(s.value[1]) > half - 2 * MINUTE && Number(s.value[1]) < dan.windowEnd);
    // keys that end 3 days after they were issued, seen from Prometheus's clock
    const days3 = 3 * 86_400 + ahead() / 1000;
    await has(expr('Keys expiring within 30 days'), (s) => s.metric['member'] === 'cat' && Number(s.value[1]) < days3);
    await has(expr('Keys expiring within 30 days'), (s) => s.metric['member'] === 'eli' && Number(s.value[1]) < days3);
    await has(expr('Rotations per hour'), (s) => s.metric['trigger'] === 'Requested');
    await has(expr('OpenRouter 429s and limiter wait'), (s) => s.metric['route'] === 'GET /keys');
    process.stderr.write(`dashboard: ${queries.length} queries answered with ${series} series\n`);
  });

  it('accepts every rule expression, and the series each selects exist with the labels it aggregates by', async () => {
    for (const r of (await ruleSpec()).groups.flatMap((g) => g.rules)) {
      await prom.query(r.expr); // a PromQL error throws
      // e.g. max by (namespace, member, policy) (teamkeys_member_spend_usd) or sum(rate(teamkeys_x{code="429"}[5m]))
      const selectors = [...r.expr.matchAll(/(?:by \(([^)]*)\)\s*\(\s*(?:rate\(|increase\()?)?\b((?:teamkeys_\w+|up)(?:\{[^}]*\})?)/g)];
      expect(selectors.length, r.alert).toBeGreaterThan(0);
      for (const [, by, selector] of selectors) {
        const labels = (by ?? '').split(',').map((l) => l.trim()).filter(Boolean);
        await answered(selector ?? '', labels, `${r.alert ?? ''}: ${selector ?? ''}`);
      }
    }
  });

  it('fires the alerts this traffic provokes, and not the policy fallbacks while member metrics are on', async () => {
    await firing('TeamkeysBudgetExhausted', { namespace: a, member: 'ann', policy, severity: 'warning' });
    const spike = await firing('TeamkeysSpendSpike', { namespace: a, member: 'ann', policy, severity: 'critical' });
    expect(spike.annotations['summary']).toMatch(new RegExp(`^${a}/ann is spending \\$\\d+\\.\\d\\d/h`));
    await firing('TeamkeysBudgetWarning', { namespace: a, member: 'bob', policy, severity: 'info' });
    await firing('TeamkeysBudgetForecastExhaustion', { namespace: b, member: 'dan', policy });
    await firing('TeamkeysOpenRouterRateLimited');
    const all = names(await prom.alerts());
    for (const quiet of ['TeamkeysPolicyBudgetWarning', 'TeamkeysPolicyBudgetExhausted', 'TeamkeysPolicyBudgetForecastExhaustion', 'TeamkeysPolicyKeyExpiringSoon',
      'TeamkeysManagementKeyInvalid', 'TeamkeysNoLeader', 'TeamkeysOperatorNotReady', 'TeamkeysOperatorDown', 'TeamkeysRotationStalled', 'TeamkeysRotationIssuingStuck']) {
      expect(all.has(quiet), `${quiet} is not active`).toBe(false);
    }
    // bob's warning is no exhaustion; ann's exhaustion is no warning
    const byMember = (await prom.alerts()).filter((x) => x.labels['policy'] === policy).map((x) => `${x.labels['alertname'] ?? ''} ${x.labels['member'] ?? ''}`);
    expect(byMember).not.toContain('TeamkeysBudgetWarning ann');
    expect(byMember).not.toContain('TeamkeysBudgetExhausted bob');
    // eli's key renews on time: no expiry alert yet
    expect(names(await prom.alerts()).has('TeamkeysKeyExpiringSoon'), 'no key expiry alert while renewals are on time').toBe(false);

    // the backstop: OpenRouter refuses every new key, and the operator's clock passes eli's renewal by over an hour
    const eli0 = await env.member(b, 'eli');
    const renewAt = Date.parse(eli0.status?.rotation?.nextRotationAt ?? '');
    const eliKeyEnds = Date.parse(eli0.status?.key?.expiresAt ?? '');
    expect(eliKeyEnds - renewAt, 'renewal 2h ahead of the expiry, spread by at most 12 minutes').toBeGreaterThanOrEqual(2 * 3_600_000);
    expect(eliKeyEnds - renewAt).toBeLessThanOrEqual(2 * 3_600_000 + 12 * MINUTE);
    env.emu.faults.set([{ route: 'POST /api/v1/keys', kind: 'error', probability: 1, status: 500, latencyMs: 0, retryAfterSeconds: 1 }]);
    try {
      env.clock.set(renewAt + 61 * MINUTE);
      await env.op.sync();
      const expiring = await firing('TeamkeysKeyExpiringSoon', { namespace: b, member: 'eli', policy: ttlPolicy });
      expect((await env.member(b, 'eli')).status?.key?.expiresAt, 'the old key is still the one in use').toBe(eli0.status?.key?.expiresAt);
      expect(expiring.annotations['summary']).toMatch(/^The key of .+\/eli expires in .+, and its renewal is late$/);
      // the summary says when eli's key ends (on the operator's clock) from now on Prometheus's
      expect(Math.abs(humanSeconds(expiring.annotations['summary'] ?? '') - (eliKeyEnds - Date.now()) / 1000)).toBeLessThan(60);
      // cat's key ends with cat
      expect(names(await prom.alerts())).toContain('TeamkeysKeyExpiringSoon');
      expect((await prom.alerts()).filter((x) => x.labels['alertname'] === 'TeamkeysKeyExpiringSoon').map((x) => x.labels['member'])).toEqual(['eli']);
    } finally {
      env.emu.faults.clear();
    }
    // no key string in any series or alert Prometheus holds
    const keyish = /sk-or-v1-/;
    expect(JSON.stringify(await prom.query('{__name__=~"teamkeys_.+"}'))).not.toMatch(keyish);
    expect(JSON.stringify(await prom.alerts())).not.toMatch(keyish);
    await expectNoKeyStrings(env, [a, b]);
  });

  it('pages when the management key stops working, the replica leads no more, and the operator is gone', async () => {
    const standard = env.emu.store.createKey({ name: 'not a management key' }).secret;
    await env.core.patchNamespacedSecret({ namespace: env.system, name: 'teamkeys-management-key', body: { stringData: { apiKey: standard } } }, MERGE);
    await firing('TeamkeysManagementKeyInvalid', { severity: 'critical' });
    await firing('TeamkeysOperatorNotReady', { pod: 'teamkeys-operator-0' });
    env.op.depose();
    await firing('TeamkeysNoLeader');
    expect(names(await prom.alerts()).has('TeamkeysOperatorDown')).toBe(false);
    // Prometheus's keep-alive connection would hold a graceful close open
    probes.close();
    probes.closeAllConnections();
    await firing('TeamkeysOperatorDown');
  });
});
