/**
 * `make bench-memory`: the operator's memory at one fleet size, in the three phases a user sizes for and two more,
 * with nothing else run beside it (make bench measures its yardsticks in the same run), and where the RSS is
 * (files, anonymous memory, malloc's heap, V8's spaces). Environment:
 *   BENCH_N (members, default 10,000)  BENCH_NODE_ARGS (Node flags, as for make bench)
 *   BENCH_IDLE_MINUTES (how long the fleet idles after the restart, default 2)
 * Phases: just started; every member Ready after a burst (and again once the burst's garbage had a minute);
 * after a restart over them; after the idle time (usage synced every 30 s). Prints a table; writes JSON to
 * bench/results/. Asserts nothing.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { GROUP, VERSION } from '../src/api/schema.ts';
import { Emulator } from '../src/emulator/server.ts';
import { newSecret } from '../src/emulator/state.ts';
import { apiClient } from '../src/kube/pool.ts';
import { aMember, aPolicy, toYaml } from '../test/kit/objects.ts';
import { inParallel } from './baselines.ts';
import { metricSum, procStats, readyClock } from './measure.ts';
import { machine } from './report.ts';
import { allReady, benchCluster, converged, operatorNodeArgs, pause, policyReadyMembers, startBenchOperator, type BenchOperator } from './setup.ts';

const ROOT = join(import.meta.dirname, '..');
const N = Number(process.env['BENCH_N'] ?? 10_000);
const IDLE_MINUTES = Number(process.env['BENCH_IDLE_MINUTES'] ?? 2);
const say = (s: string) => process.stderr.write(`[bench-memory] ${s}\n`);

interface Phase {
  phase: string;
  rssMB: number;
  heapUsedMB: number;
  heapTotalMB: number;
  cpuSeconds: number;
  /** one scrape of /metrics: its size and how long it took */
  scrapeMB: number;
  scrapeMs: number;
  /** where the RSS is: pages of files (the Node binary, mostly) and anonymous pages; V8's own spaces and external memory */
  fileMB: number;
  anonMB: number;
  /** of the anonymous pages, those of malloc's main heap (brk): Node's and V8's own allocations, outside the JS heap */
  mallocMB: number;
  externalMB: number;
  spacesMB: Record<string, number>;
}

/** What malloc's main heap (the brk `[heap]` mapping) holds resident. */
async function mallocHeapMB(pid: number): Promise<number> {
  const brk = /\[heap\]\n(?:.*\n)*?Rss:\s+(\d+)/.exec(await readFile(`/proc/${pid}/smaps`, 'utf8'));
  return Number(brk?.[1] ?? 0) / 1024;
}

async function phase(name: string, o: BenchOperator): Promise<Phase> {
  const stats = await procStats(o.op.child.pid ?? 0); // before the scrape below, which renders every member's series
  const mallocMB = await mallocHeapMB(o.op.child.pid ?? 0);
  const t0 = performance.now();
  const text = await o.metrics();
  const scrapeMs = performance.now() - t0;
  const p = {
    phase: name,
    rssMB: stats.rssBytes / 2 ** 20,
    heapUsedMB: metricSum(text, 'teamkeys_nodejs_heap_size_used_bytes') / 2 ** 20,
    heapTotalMB: metricSum(text, 'teamkeys_nodejs_heap_size_total_bytes') / 2 ** 20,
    cpuSeconds: stats.cpuSeconds,
    scrapeMB: text.length / 2 ** 20,
    scrapeMs,
    fileMB: stats.rssFileBytes / 2 ** 20,
    anonMB: stats.rssAnonBytes / 2 ** 20,
    mallocMB,
    externalMB: metricSum(text, 'teamkeys_nodejs_external_memory_bytes') / 2 ** 20,
    spacesMB: Object.fromEntries([...text.matchAll(/^teamkeys_nodejs_heap_space_size_total_bytes\{space="(\w+)"\} (\S+)$/gm)].map((m) => [m[1] ?? '', Number(m[2]) / 2 ** 20])),
  };
  say(`${name}: RSS ${p.rssMB.toFixed(0)} MB (files ${p.fileMB.toFixed(0)}, anonymous ${p.anonMB.toFixed(0)}, of it malloc's heap ${p.mallocMB.toFixed(0)}), heap ${p.heapUsedMB.toFixed(0)} of ${p.heapTotalMB.toFixed(0)} MB, external ${p.externalMB.toFixed(0)} MB, a scrape ${p.scrapeMB.toFixed(1)} MB in ${scrapeMs.toFixed(0)} ms`);
  say(`  V8 spaces (MB): ${Object.entries(p.spacesMB).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')}`);
  return p;
}

const { cp, kubectl, kc } = await benchCluster();
const mk = newSecret();
const emu = new Emulator({ managementKeys: [mk] });
let o: BenchOperator | undefined;
try {
  const core = apiClient(kc, CoreV1Api);
  const custom = apiClient(kc, CustomObjectsApi);
  const url = await emu.start();
  await core.createNamespace({ body: { metadata: { name: 'teamkeys-system' } } });
  await core.createNamespacedSecret({ namespace: 'teamkeys-system', body: { metadata: { name: 'teamkeys-management-key' }, stringData: { apiKey: mk } } });
  const env = {
    KUBECONFIG: cp.kubeconfigPath, POD_NAMESPACE: 'teamkeys-system', TEAMKEYS_OPENROUTER_URL: `${url}/api/v1`, TEAMKEYS_LEADER_ELECT: 'false',
    TEAMKEYS_MIN_SYNC_INTERVAL: '30s', LOG_LEVEL: 'warn',
  };
  const ns = 'fleet';
  await core.createNamespace({ body: { metadata: { name: ns } } });
  await kubectl(['apply', '-f', '-'], toYaml(aPolicy('fleet', { budget: { limitUSD: 5 }, usage: { syncInterval: '30s' } })));
  o = await startBenchOperator(env);
  await pause(5_000);
  const phases = [await phase('started', o)];
  say(`creating ${N} members`);
  const clock = readyClock(custom, ns);
  await inParallel(N, 32, async (k) => {
    await custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: 'teammembers', body: aMember(ns, `m${k}`, 'fleet') });
    clock.created(`m${k}`);
  });
  await allReady(clock, N, () => policyReadyMembers(custom, 'fleet'));
  phases.push(await phase('all Ready', o));
  await pause(60_000);
  phases.push(await phase('a minute later', o));
  o.op.child.kill('SIGTERM');
  await o.op.exited;
  o = await startBenchOperator(env);
  await converged(o.metrics);
  phases.push(await phase('after a restart', o));
  await pause(IDLE_MINUTES * 60_000);
  phases.push(await phase(`after ${IDLE_MINUTES} min idle`, o));
  const lines = [
    `${N} Ready members, node ${operatorNodeArgs().join(' ')}`,
    '| phase | RSS MB | of it files / anonymous (malloc) | heap in use MB | heap total MB | external MB | CPU s (process) | a scrape of /metrics |',
    '|---|---|---|---|---|---|---|---|',
    ...phases.map((p) => `| ${p.phase} | ${p.rssMB.toFixed(0)} | ${p.fileMB.toFixed(0)} / ${p.anonMB.toFixed(0)} (${p.mallocMB.toFixed(0)}) | ${p.heapUsedMB.toFixed(0)} | ${p.heapTotalMB.toFixed(0)} | ${p.externalMB.toFixed(0)} | ${p.cpuSeconds.toFixed(1)} | ${p.scrapeMB.toFixed(1)} MB, ${p.scrapeMs.toFixed(0)} ms |`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  const dir = join(ROOT, 'bench/results');
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${new Date().toISOString().slice(0, 16).replace(/[:T]/g, '-')}-memory.json`);
  await writeFile(file, `${JSON.stringify({ at: new Date().toISOString(), machine: machine(), members: N, nodeArgs: operatorNodeArgs(), phases }, null, 2)}\n`);
  process.stdout.write(`wrote ${file.replace(`${ROOT}/`, '')}\n`);
} finally {
  // stopped as a Pod is (a --cpu-prof profile is written on the way out), killed if it does not stop in 10 s
  o?.op.child.kill('SIGTERM');
  if (o) await Promise.race([o.op.exited, pause(10_000)]);
  o?.op.child.kill('SIGKILL');
  await emu.stop();
  await cp.stop();
}
