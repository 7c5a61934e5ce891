/**
 * `make bench-analytics`: the usage read of a large account under OpenRouter's analytics quota (64 requests a minute
 * for the account), beside key operations. No cluster: the emulator, answering as the real service does (string
 * counts, its quota with X-RateLimit headers), and the operator's own client, analytics port and limiters.
 *
 * Prints, for BENCH_KEYS keys (default 10,000) with activity on 2 models for each of 31 days:
 * (a) the first read (every kept day) and the next (the last 3 days): queries, 429s, rows, time;
 * (b) the same first read while another tool spends half the account's analytics quota (so OpenRouter answers 429);
 * and, in both, key operations run beside it (a GET every 50 ms, an offboarding DELETE every 500 ms): their
 * latency and how many 429s reached them (the goal: none).
 */
import { Emulator } from '../src/emulator/server.ts';
import { newSecret } from '../src/emulator/state.ts';
import { OpenRouterAnalytics } from '../src/openrouter/analytics.ts';
import { OpenRouterClient } from '../src/openrouter/client.ts';
import { RateLimiter } from '../src/openrouter/limiter.ts';
import { OffsetClock, monotonicClock, systemClock } from '../src/util/clock.ts';
import { utcDay } from '../src/util/windows.ts';
import { callsBetween, pause, percentile } from './setup.ts';

const KEYS = Number(process.env['BENCH_KEYS'] ?? 10_000);
const DAY = 86_400_000;
const NOW = Date.parse('2027-03-10T12:00:00Z');

const mk = newSecret();
const emu = new Emulator({ managementKeys: [mk], clock: new OffsetClock() });
emu.clock.set(NOW);
const base = await emu.start();
const hashes: string[] = [];
for (let k = 0; k < KEYS + 200; k++) {
  const { key } = emu.store.createKey({ name: `teamkeys/bench/ns/m${k}/uid-${k}/1` });
  hashes.push(key.hash);
  if (k >= KEYS) continue; // the last 200 are offboarded during the reads
  for (let d = 0; d < 31; d++) {
    for (const model of ['openai/gpt-4o-mini', 'openai/gpt-4.1']) {
      emu.store.state.activity.push({ date: utcDay(NOW - d * DAY), keyHash: key.hash, workspaceId: key.workspaceId, model, usage: 0.01, byok: 0, requests: 3, promptTokens: 10, completionTokens: 10 });
    }
  }
}
const tracked = hashes.slice(0, KEYS);
const spare = hashes.slice(KEYS);

/** Key operations beside the read: latency per call, and the routes' statuses at the emulator. */
async function keyTraffic(client: OpenRouterClient, until: () => boolean): Promise<number[]> {
  const ms: number[] = [];
  let i = 0;
  while (!until()) {
    const t0 = performance.now();
    if (i % 10 === 9 && spare.length > 0) await client.deleteKey(spare.pop() ?? '');
    else await client.getKey(tracked[i % tracked.length] ?? '');
    ms.push(performance.now() - t0);
    i++;
    await pause(50);
  }
  return ms;
}

/** Another tool on the same account, spending `perMinute` of its analytics quota. */
async function otherTool(perMinute: number, until: () => boolean): Promise<void> {
  while (!until()) {
    await fetch(`${base}/api/v1/analytics/query`, { method: 'POST', headers: { authorization: `Bearer ${mk}`, 'content-type': 'application/json' }, body: JSON.stringify({ metrics: ['request_count'] }) });
    await pause(60_000 / perMinute);
  }
}

const lines: string[] = [];
async function read(label: string, port: OpenRouterAnalytics, client: OpenRouterClient, since: number, other = 0): Promise<void> {
  const before = emu.counters();
  const seen = port.lane.throttles.seen;
  let done = false;
  const t0 = performance.now();
  const traffic = keyTraffic(client, () => done);
  const tool = other > 0 ? otherTool(other, () => done) : Promise.resolve();
  const a = await port.usageByKeyModelDay(new Date(since), new Date(NOW), tracked);
  const seconds = (performance.now() - t0) / 1000;
  done = true;
  const latencies = (await traffic).toSorted((x, y) => x - y);
  await tool;
  const after = emu.counters();
  const status = (route: string, code: string) => (after[route]?.[code] ?? 0) - (before[route]?.[code] ?? 0);
  const keyRoutes = Object.keys(after).filter((r) => r.includes('/keys'));
  const keys429 = keyRoutes.reduce((n, r) => n + status(r, '429'), 0);
  const calls = callsBetween(before, after);
  lines.push(
    `${label}:`,
    `  ${a.rows.length} rows in ${seconds.toFixed(1)} s; ${a.calls} analytics calls by the port, which met ${port.lane.throttles.seen - seen} 429s; the account's analytics answers: ${status('POST /api/v1/analytics/query', '200')} answered, ${status('POST /api/v1/analytics/query', '429')} refused 429${other > 0 ? ` (the other tool: ${other}/min)` : ''}`,
    `  key operations beside it: ${latencies.length} (${calls['DELETE /api/v1/keys/{hash}'] ?? 0} deletes), median ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms; 429s on key routes: ${keys429}`,
  );
}

const keyLimiter = () => new RateLimiter(100, 20, monotonicClock);
try {
  const client = new OpenRouterClient({ baseUrl: `${base}/api/v1`, apiKey: () => mk, limiter: keyLimiter(), clock: systemClock });
  const port = new OpenRouterAnalytics(client);
  await read(`(a) first read, ${KEYS} keys x 31 days x 2 models, lane 32/min`, port, client, NOW - 30 * DAY);
  await read('    next read, the last 3 days', port, client, NOW - 2 * DAY);
  const client2 = new OpenRouterClient({ baseUrl: `${base}/api/v1`, apiKey: () => mk, limiter: keyLimiter(), clock: systemClock });
  emu.analyticsLimit.reset();
  await read('(b) first read while another tool spends 40 of the 64 a minute', new OpenRouterAnalytics(client2), client2, NOW - 30 * DAY, 40);
  process.stdout.write(`${lines.join('\n')}\n`);
  await client.close();
  await client2.close();
} finally {
  await emu.stop();
}
