/** A scale run's results: a table on stdout, JSON with the machine's description, and a PNG chart (vega-lite). */
import { cpus, totalmem, release } from 'node:os';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export interface ScenarioResult {
  members: number;
  latencyMs: number;
  /** OpenRouter's emulated rate limit, calls per second (undefined: none) */
  limit: number | undefined;
  /** how fast the members were created (a client with 32 requests in flight) */
  createdPerSecond: number;
  readyMs: { p50: number; p95: number; p99: number; max: number };
  membersPerSecond: number;
  kubernetesWritesPerMember: number;
  dryRunsPerMember: number;
  /** GETs of members and their Secrets (informers' lists and watches, and the management key's reads, left out) */
  kubernetesReadsPerMember: number;
  openrouterWritesPerMember: number;
  openrouterCallsPerMember: number;
  refused429: number;
  seedScriptPerSecond: number;
  ceilingPerSecond: number;
  operatorRssMB: number;
  /** V8 heap in use (the rest of RSS is code, buffers and memory V8 has not returned) */
  operatorHeapMB: number;
  /** the operator's CPU from the first create to every member Ready */
  operatorCpuSeconds: number;
  /** the fleet deleted (every scenario's but the last): members gone a second, and its keys still enabled after */
  deletedPerSecond?: number;
  keysLeftEnabled?: number;
}

export interface RestartResult {
  members: number;
  kubernetesWrites: number;
  openrouterWrites: number;
  openrouterCalls: Record<string, number>;
  rssMB: number;
  heapMB: number;
}

/** The fleet left alone after the restart: usage synced every 30 s. */
export interface IdleResult {
  members: number;
  minutes: number;
  syncs: number;
  kubernetesWritesPerSync: number;
  /** every management call of a sync: key pages (ceil(keys/100)), the analytics query, guardrail lists */
  openrouterCallsPerSync: number;
  /** keys in the OpenRouter account the sync lists (the baselines' keys included) */
  keysAtOpenRouter: number;
  rssMB: number;
  heapMB: number;
  cpuSecondsPerMinute: number;
}

export function machine() {
  return { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memoryGB: Math.round(totalmem() / 2 ** 30), kernel: release(), node: process.version };
}

const f = (v: number | undefined, d = 1) => (v !== undefined && Number.isFinite(v) ? v.toFixed(d) : '-');

export function table(rows: readonly ScenarioResult[], restart: RestartResult | undefined, idle: IdleResult | undefined): string {
  const head = ['N', 'lat', 'limit', 'created/s', 'p50 ms', 'p95', 'p99', 'max', 'members/s', 'vs seed (a)', 'of ceiling (b)', 'k8s w/m', 'dry/m', 'get/m', 'k8s req/m', 'OR w/m', 'OR calls/m', '429s', 'RSS MB', 'heap MB', 'CPU s', 'deleted/s', 'keys left'];
  const lines = rows.map((r) => [
    String(r.members), `${r.latencyMs}ms`, r.limit === undefined ? 'off' : `${r.limit}/s`, f(r.createdPerSecond, 0), f(r.readyMs.p50, 0), f(r.readyMs.p95, 0), f(r.readyMs.p99, 0), f(r.readyMs.max, 0),
    f(r.membersPerSecond), `${f(r.membersPerSecond / r.seedScriptPerSecond, 2)}x (${f(r.seedScriptPerSecond)}/s)`, `${f((100 * r.membersPerSecond) / r.ceilingPerSecond, 0)}% (${f(r.ceilingPerSecond)}/s)`,
    f(r.kubernetesWritesPerMember, 2), f(r.dryRunsPerMember, 2), f(r.kubernetesReadsPerMember, 2), f(r.kubernetesWritesPerMember + r.dryRunsPerMember + r.kubernetesReadsPerMember, 2), f(r.openrouterWritesPerMember, 2), f(r.openrouterCallsPerMember, 2), String(r.refused429), f(r.operatorRssMB, 0), f(r.operatorHeapMB, 0), f(r.operatorCpuSeconds, 1),
    f(r.deletedPerSecond), r.keysLeftEnabled === undefined ? '-' : String(r.keysLeftEnabled),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)));
  const fmt = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i] ?? 0)).join('  ');
  const out = [fmt(head), ...lines.map(fmt)];
  if (restart) out.push('', `restart over ${restart.members} Ready members: ${restart.kubernetesWrites} Kubernetes writes, ${restart.openrouterWrites} OpenRouter writes, calls ${JSON.stringify(restart.openrouterCalls)}, RSS ${f(restart.rssMB, 0)} MB (heap ${f(restart.heapMB, 0)} MB)`);
  if (idle) out.push(`idle ${f(idle.minutes)} min over ${idle.members} members: ${idle.syncs} usage syncs, ${f(idle.kubernetesWritesPerSync, 2)} Kubernetes writes and ${f(idle.openrouterCallsPerSync, 1)} OpenRouter calls per sync (${idle.keysAtOpenRouter} keys at OpenRouter), RSS ${f(idle.rssMB, 0)} MB (heap ${f(idle.heapMB, 0)} MB), ${f(idle.cpuSecondsPerMinute, 2)} CPU s/min`);
  return out.join('\n');
}

async function png(spec: TopLevelSpec, file: string): Promise<void> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  await writeFile(file, new Resvg(svg, { background: 'white', fitTo: { mode: 'zoom', value: 2 } }).render().asPng());
}

/** Writes <dir>/<stamp>.json and <stamp>-latency.png, <stamp>-throughput.png; returns the file names. */
export async function save(dir: string, rows: readonly ScenarioResult[], restart: RestartResult | undefined, idle: IdleResult | undefined, over?: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const json = over ?? join(dir, `${new Date().toISOString().slice(0, 16).replace(/[:T]/g, '-')}.json`);
  const stamp = basename(json, '.json');
  await writeFile(json, `${JSON.stringify({ at: new Date().toISOString(), machine: machine(), scenarios: rows, restart, idle }, null, 2)}\n`);
  return [json, ...(await charts(dir, stamp, rows))];
}

/** The two charts of a run (also for re-drawing a saved run: `node bench/report.ts bench/results/<stamp>.json`). */
export async function charts(dir: string, stamp: string, rows: readonly ScenarioResult[]): Promise<string[]> {
  const label = (r: ScenarioResult) => `N=${r.members} ${r.latencyMs}ms ${r.limit === undefined ? 'no limit' : `limit ${r.limit}/s`}`;
  const latency = rows.flatMap((r) => (['p50', 'p95', 'p99', 'max'] as const).map((q) => ({ scenario: label(r), quantile: q, ms: r.readyMs[q] })));
  await png({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json', title: 'apply -> Ready per member (ms, log scale)', width: 520, height: 260,
    data: { values: latency },
    // points, not bars: a bar on a log scale has no baseline to start from
    mark: { type: 'point', filled: true, size: 90 },
    encoding: {
      y: { field: 'scenario', type: 'nominal', title: null, sort: null },
      x: { field: 'ms', type: 'quantitative', scale: { type: 'log' }, title: 'ms from the member\'s creation to Ready=True' },
      color: { field: 'quantile', type: 'nominal', sort: ['p50', 'p95', 'p99', 'max'] },
    },
  }, join(dir, `${stamp}-latency.png`));
  const conditions = (r: ScenarioResult) => `${r.latencyMs} ms, ${r.limit === undefined ? 'no limit' : `limit ${r.limit}/s`}`;
  const throughput = [
    ...rows.flatMap((r) => [
      { members: r.members, series: `teamkeys (${conditions(r)})`, perSecond: r.membersPerSecond },
      { members: r.members, series: `(a) seed script (${conditions(r)})`, perSecond: r.seedScriptPerSecond },
    ]),
    // the ceiling does not depend on OpenRouter: one point per N, the mean of its runs
    ...[...new Set(rows.map((r) => r.members))].map((members) => {
      const runs = rows.filter((r) => r.members === members);
      return { members, series: '(b) API server ceiling, the operator\'s 3 requests/member', perSecond: runs.reduce((s, r) => s + r.ceilingPerSecond, 0) / runs.length };
    }),
  ];
  await png({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json', title: 'members provisioned per second vs N', width: 520, height: 300,
    data: { values: throughput },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'members', type: 'quantitative', scale: { type: 'log' }, title: 'members applied at once' },
      y: { field: 'perSecond', type: 'quantitative', title: 'members/s' },
      color: { field: 'series', type: 'nominal', title: null, legend: { labelLimit: 400 } },
      detail: { field: 'series' },
    },
  }, join(dir, `${stamp}-throughput.png`));
  return [join(dir, `${stamp}-latency.png`), join(dir, `${stamp}-throughput.png`)];
}

if (import.meta.main) {
  const file = process.argv[2];
  if (!file) throw new Error('usage: node bench/report.ts bench/results/<stamp>.json');
  const saved = JSON.parse(await readFile(file, 'utf8')) as { scenarios: ScenarioResult[]; restart?: RestartResult; idle?: IdleResult };
  process.stdout.write(`${table(saved.scenarios, saved.restart, saved.idle)}\n`);
  await charts(dirname(file), basename(file, '.json'), saved.scenarios);
}
