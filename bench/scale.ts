/**
 * `make bench`: provisioning at scale on the whole local cluster and the emulator, side by side with (a) a
 * seed-style script and (b) the API server's ceiling, in one run. The operator runs as its own process (its RSS and
 * CPU are its own; its writes are read from its metrics). Matrix from the environment:
 *   BENCH_N=1,100,1000  BENCH_LATENCY=0,50  BENCH_LIMIT=0,50 (0: OpenRouter without a rate limit)
 *   BENCH_CEILING (the operator's --rate-limit-per-second; default: the operator's default)
 *   BENCH_NODE_ARGS (Node flags for the operator; default the image's and the Deployment's: --max-semi-space-size=2
 *   --optimize-for-size --max-old-space-size=160, with the image's MALLOC_* settings in its environment;
 *   add e.g. "--cpu-prof --cpu-prof-dir=bench/profiles" for a profile)
 *   BENCH_IDLE_MINUTES (after the restart, how long the fleet idles before its RSS is read; default 2 usage syncs)
 * Each scenario's fleet is deleted before the next one starts (the deletion is measured too), so the operator
 * caches one fleet at a time; the restart and the idle run over the last scenario's fleet.
 * The operator runs from dist/ (`make bench` builds it first), as the image runs it.
 * Prints a table; writes JSON and PNG charts to bench/results/. Asserts nothing.
 */
import { join } from 'node:path';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { GROUP, VERSION } from '../src/api/schema.ts';
import { Emulator } from '../src/emulator/server.ts';
import { apiClient } from '../src/kube/pool.ts';
import { newSecret } from '../src/emulator/state.ts';
import type { OperatorProcess } from '../test/integration/process.ts';
import { ceiling, inParallel, seedScript } from './baselines.ts';
import { metricSum, procStats, readyClock } from './measure.ts';
import { allReady, benchCluster, callsBetween, converged, pause, percentile, policyReadyMembers, startBenchOperator } from './setup.ts';
import { save, table, type IdleResult, type RestartResult, type ScenarioResult } from './report.ts';
import { aMember, aPolicy, toYaml } from '../test/kit/objects.ts';

const ROOT = join(import.meta.dirname, '..');
const list = (v: string | undefined, d: number[]) => (v ? v.split(',').map(Number) : d);
const NS = list(process.env['BENCH_N'], [1, 100, 1000]);
const LATENCIES = list(process.env['BENCH_LATENCY'], [0, 50]);
const LIMITS = list(process.env['BENCH_LIMIT'], [0, 50]);
/** Kubernetes writes that stored something (dry runs left out), from the operator's metrics */
const stored = (labels: string) => !labels.includes('dry run');
const storedWrites = (text: string) => metricSum(text, 'teamkeys_kubernetes_writes_total', stored);
/** GETs of members and their Secrets, from the operator's metrics */
const memberReads = (text: string) => metricSum(text, 'teamkeys_kubernetes_reads_total', (l) => l.includes('"TeamMember"') || l.includes('"member Secret"'));
const MANAGED = { 'bench.teamkeys.dev/managed': 'true' };
const say = (s: string) => process.stderr.write(`[bench] ${s}\n`);

const { cp, kubectl, kc } = await benchCluster();
const mk = newSecret();
const emu = new Emulator({ managementKeys: [mk] });
let operator: OperatorProcess | undefined;
try {
  const core = apiClient(kc, CoreV1Api);
  const custom = apiClient(kc, CustomObjectsApi); // pooled connections, as the operator's: the baselines must not pay a handshake per call
  const url = await emu.start();
  const member = { group: GROUP, version: VERSION, plural: 'teammembers' };
  const count = async (namespace: string) => ((await custom.listNamespacedCustomObject({ ...member, namespace, limit: 1 })) as { items: unknown[] }).items.length;
  /**
   * Deletes a scenario's namespaces (its members', and its yardsticks'), and waits until the operator has let go of
   * every member and their Secrets are gone: how fast the keys were revoked, and how many of the scenario's keys
   * are still enabled at OpenRouter (the seed script's left out).
   */
  const deleteFleet = async (ns: string, n: number, keysBefore: ReadonlySet<string>) => {
    const deadline = performance.now() + 30 * 60_000;
    const wait = async (what: string, left: () => Promise<number>) => {
      while ((await left()) > 0) {
        if (performance.now() > deadline) throw new Error(`${ns}: ${what} still there 30 minutes after the delete`);
        await pause(1_000);
      }
    };
    // whole namespaces, as a team is offboarded: the namespace controller deletes what they hold (a deletecollection
    // of 10,000 members from here outlasted the API server's request timeout). The yardsticks' first (no
    // finalizers: they go at once), so that the time below is the fleet's alone
    const present = async (name: string) => (await core.readNamespace({ name }).then(() => 1, () => 0));
    for (const name of [`seed-${ns}`, `ceil-${ns}`]) await core.deleteNamespace({ name });
    for (const name of [`seed-${ns}`, `ceil-${ns}`]) await wait(`namespace ${name}`, () => present(name));
    const started = performance.now();
    await core.deleteNamespace({ name: ns });
    await wait('members', () => count(ns));
    const deletedPerSecond = (n / (performance.now() - started)) * 1000;
    await wait(`namespace ${ns}`, () => present(ns)); // its Secrets too
    const keysLeftEnabled = emu.store.listKeys({ includeDisabled: false }).filter((k) => !keysBefore.has(k.hash) && !k.name.startsWith('seed-')).length;
    say(`${ns}: deleted at ${deletedPerSecond.toFixed(1)} members/s, ${keysLeftEnabled} of its keys left enabled`);
    return { deletedPerSecond, keysLeftEnabled };
  };
  await core.createNamespace({ body: { metadata: { name: 'teamkeys-system' } } });
  await core.createNamespacedSecret({ namespace: 'teamkeys-system', body: { metadata: { name: 'teamkeys-management-key' }, stringData: { apiKey: mk } } });
  const env = {
    KUBECONFIG: cp.kubeconfigPath, POD_NAMESPACE: 'teamkeys-system', TEAMKEYS_NAMESPACE_SELECTOR: 'bench.teamkeys.dev/managed=true', TEAMKEYS_OPENROUTER_URL: `${url}/api/v1`, TEAMKEYS_LEADER_ELECT: 'false',
    TEAMKEYS_MIN_SYNC_INTERVAL: '1h', LOG_LEVEL: 'warn', ...(process.env['BENCH_CEILING'] ? { TEAMKEYS_RATE_LIMIT_PER_SECOND: process.env['BENCH_CEILING'] } : {}),
  };
  const start = (extra: Record<string, string> = {}) => startBenchOperator({ ...env, ...extra });
  let o = await start();
  operator = o.op;
  // warm up (caches, JIT, the first key listing): the first scenario must not measure the operator's start
  await core.createNamespace({ body: { metadata: { name: 'warmup', labels: MANAGED } } });
  await kubectl(['apply', '-f', '-'], toYaml(aPolicy('warmup', { usage: { syncInterval: '30s' } }), aMember('warmup', 'warmup', 'warmup')));
  while ((await readyClock(custom, 'warmup').collect()) < 1) await pause(100);
  const results: ScenarioResult[] = [];
  let partial: string[] | undefined;
  const matrix = NS.flatMap((n) => LATENCIES.flatMap((latencyMs) => LIMITS.map((limitRaw) => ({ n, latencyMs, limitRaw }))));
  for (const [i, { n, latencyMs, limitRaw }] of matrix.entries()) {
    const limit = limitRaw > 0 ? limitRaw : undefined;
    const ns = `s${i}-n${n}-l${latencyMs}-r${limitRaw}`;
    say(`${ns}: ${n} members, OpenRouter latency ${latencyMs} ms, ${limit ? `limit ${limit}/s` : 'no limit'}`);
    // the ceiling's namespace is left out of the operator's selector: (b) writes its members itself
    for (const name of [ns, `seed-${ns}`]) await core.createNamespace({ body: { metadata: { name, labels: MANAGED } } });
    await core.createNamespace({ body: { metadata: { name: `ceil-${ns}` } } });
    await kubectl(['apply', '-f', '-'], toYaml(aPolicy(`p-${ns}`, { budget: { limitUSD: 5 } })));
    emu.faults.set(latencyMs > 0 ? [{ kind: 'latency', latencyMs, probability: 1, status: 500, retryAfterSeconds: 1 }] : []);
    emu.rateLimit.set(limit ? { perSecond: limit } : undefined);
    const m0 = await o.metrics();
    const c0 = emu.counters();
    const keysBefore = new Set(emu.store.listKeys({ includeDisabled: true }).map((k) => k.hash));
    const cpu0 = (await procStats(o.op.child.pid ?? 0)).cpuSeconds;
    const clock = readyClock(custom, ns);
    // created by a tight client (32 in flight): kubectl creates one object at a time (~100/s here), and the
    // operator's throughput must not be capped by how fast the members arrive
    const created = performance.now();
    await inParallel(n, 32, async (k) => {
      await custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: 'teammembers', body: aMember(ns, `m${k}`, `p-${ns}`) });
      clock.created(`m${k}`);
    });
    const createdPerSecond = (n / (performance.now() - created)) * 1000;
    await allReady(clock, n, () => policyReadyMembers(custom, `p-${ns}`));
    await pause(1_000); // the last status writes of the burst (the policy's) land
    const m1 = await o.metrics();
    const c1 = emu.counters();
    const lat = clock.latencies().toSorted((a, b) => a - b);
    const calls = (routes: (r: string) => boolean, status?: string) => Object.entries(c1).filter(([r]) => routes(r)).reduce((s, [r, by]) => s + Object.entries(by).filter(([st]) => !status || st === status).reduce((x, [st, v]) => x + v - (c0[r]?.[st] ?? 0), 0), 0);
    const mgmt = (r: string) => r.includes('/api/v1/') && r !== 'GET /api/v1/key' && !r.includes('/chat/');
    const write = (r: string) => /^(POST|PATCH|DELETE) \/api\/v1\/keys/.test(r);
    const span = (clock.lastReady() ?? 0) - (clock.firstCreated() ?? 0);
    const stats = await procStats(o.op.child.pid ?? 0);
    const seedMs = await seedScript(core, url, mk, `seed-${ns}`, n);
    emu.faults.clear();
    emu.rateLimit.set(undefined);
    const ceilMs = await ceiling(core, custom, `ceil-${ns}`, `p-${ns}`, n);
    // every fleet but the last is deleted before the next scenario, so that each scenario's RSS is its own
    // fleet's (the restart and the idle below run over the last one); how long the operator takes to revoke
    // every key, and whether it left one enabled, are measured on the way
    const gone = i < matrix.length - 1 ? await deleteFleet(ns, n, keysBefore) : undefined;
    results.push({
      members: n, latencyMs, limit, createdPerSecond,
      readyMs: { p50: percentile(lat, 50), p95: percentile(lat, 95), p99: percentile(lat, 99), max: lat.at(-1) ?? Number.NaN },
      membersPerSecond: n / Math.max(span, 1) * 1000,
      kubernetesWritesPerMember: (storedWrites(m1) - storedWrites(m0)) / n,
      dryRunsPerMember: (metricSum(m1, 'teamkeys_kubernetes_writes_total', (l) => !stored(l)) - metricSum(m0, 'teamkeys_kubernetes_writes_total', (l) => !stored(l))) / n,
      kubernetesReadsPerMember: (memberReads(m1) - memberReads(m0)) / n,
      openrouterWritesPerMember: calls(write) / n,
      openrouterCallsPerMember: calls(mgmt) / n,
      refused429: calls(mgmt, '429'),
      seedScriptPerSecond: (n / seedMs) * 1000,
      ceilingPerSecond: (n / ceilMs) * 1000,
      operatorRssMB: stats.rssBytes / 2 ** 20,
      operatorHeapMB: metricSum(m1, 'teamkeys_nodejs_heap_size_used_bytes') / 2 ** 20,
      operatorCpuSeconds: stats.cpuSeconds - cpu0,
      ...gone,
    });
    partial = await save(join(ROOT, 'bench/results'), results, undefined, undefined, partial?.[0]); // kept if a later scenario fails
    say(`${ns}: ready ${lat.length}/${n}, p50 ${percentile(lat, 50).toFixed(0)} ms, ${(n / Math.max(span, 1) * 1000).toFixed(1)} members/s`);
  }
  // a restart over every Ready member: no key may be created, no status rewritten; then the fleet idles, its
  // usage synced every 30 s (the warm-up policy asks for that), and each sync must write nothing
  let restart: RestartResult | undefined;
  let idle: IdleResult | undefined;
  {
    const members = (matrix.at(-1)?.n ?? 0) + 1; // the last fleet and the warm-up member
    o.op.child.kill('SIGTERM');
    await o.op.exited;
    const c0 = emu.counters();
    o = await start({ TEAMKEYS_MIN_SYNC_INTERVAL: '30s' });
    operator = o.op;
    await converged(o.metrics);
    const text = await o.metrics();
    const c1 = emu.counters();
    const openrouterCalls: Record<string, number> = {};
    for (const [r, by] of Object.entries(c1)) {
      const d = Object.entries(by).reduce((x, [st, v]) => x + v - (c0[r]?.[st] ?? 0), 0);
      if (d > 0 && r !== 'GET /api/v1/key') openrouterCalls[r] = d;
    }
    restart = {
      members,
      kubernetesWrites: storedWrites(text),
      openrouterWrites: Object.entries(openrouterCalls).filter(([r]) => /^(POST|PATCH|DELETE) \/api\/v1\/keys/.test(r)).reduce((s, [, v]) => s + v, 0),
      openrouterCalls,
      rssMB: (await procStats(o.op.child.pid ?? 0)).rssBytes / 2 ** 20,
      heapMB: metricSum(text, 'teamkeys_nodejs_heap_size_used_bytes') / 2 ** 20,
    };
    const queries = (c: Record<string, Record<string, number>>) => Object.values(c['POST /api/v1/analytics/query'] ?? {}).reduce((a, b) => a + b, 0);
    const c2 = emu.counters();
    const w0 = storedWrites(text);
    const before = await procStats(o.op.child.pid ?? 0);
    const started = performance.now();
    const minutes = Number(process.env['BENCH_IDLE_MINUTES'] ?? 0);
    while (queries(emu.counters()) < queries(c2) + 2 || performance.now() - started < minutes * 60_000) await pause(1_000);
    const c3 = emu.counters();
    const idleText = await o.metrics();
    const syncs = queries(c3) - queries(c2);
    const stats = await procStats(o.op.child.pid ?? 0);
    idle = {
      members, minutes: (performance.now() - started) / 60_000, syncs,
      kubernetesWritesPerSync: (storedWrites(idleText) - w0) / syncs,
      openrouterCallsPerSync: Object.entries(callsBetween(c2, c3)).reduce((a, [, v]) => a + v, 0) / syncs,
      keysAtOpenRouter: emu.store.listKeys({ includeDisabled: true }).length,
      rssMB: stats.rssBytes / 2 ** 20,
      heapMB: metricSum(idleText, 'teamkeys_nodejs_heap_size_used_bytes') / 2 ** 20,
      cpuSecondsPerMinute: (stats.cpuSeconds - before.cpuSeconds) / ((performance.now() - started) / 60_000),
    };
  }
  process.stdout.write(`${table(results, restart, idle)}\n`);
  const files = await save(join(ROOT, 'bench/results'), results, restart, idle, partial?.[0]);
  process.stdout.write(`wrote ${files.map((x) => x.replace(`${ROOT}/`, '')).join(', ')}\n`);
} finally {
  operator?.child.kill('SIGKILL');
  await emu.stop();
  await cp.stop();
}
