/**
 * `make demo`: a whole local cluster, the OpenRouter emulator and the operator on this machine, the example
 * tiers/team/workshop/SaaS scenarios applied, some traffic through the emulator with the keys from the
 * generated Secrets, and `kubectl get tm -A` with usage. Everything lives in .cache/demo; `make demo-down` stops it.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { freePort, startControlPlane, stopControlPlaneIn } from '../test/controlplane/controlplane.ts';
import { onPath, startPrometheus } from '../test/monitoring/prometheus.ts';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..');
const DIR = join(ROOT, '.cache/demo');
const started = Date.now();
const say = (s: string) => process.stdout.write(`[demo ${((Date.now() - started) / 1000).toFixed(0).padStart(3)}s] ${s}\n`);

async function stopPid(file: string): Promise<void> {
  try {
    const pid = Number(await readFile(file, 'utf8'));
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 50; i++) {
      process.kill(pid, 0);
      await sleep(100);
    }
  } catch {
    // not running
  }
}

async function down(): Promise<void> {
  await stopPid(join(DIR, 'prometheus.pid'));
  await stopPid(join(DIR, 'operator.pid'));
  await stopPid(join(DIR, 'emulator.pid'));
  await stopControlPlaneIn(join(DIR, 'cluster'));
}

async function background(name: string, args: string[]): Promise<void> {
  const log = await open(join(DIR, `${name}.log`), 'w');
  const child = spawn(process.execPath, [join(ROOT, 'src/main.ts'), ...args], { stdio: ['ignore', log.fd, log.fd], detached: true });
  child.unref();
  await log.close();
  await writeFile(join(DIR, `${name}.pid`), String(child.pid));
}

if (process.argv[2] === 'down') {
  await down();
  process.stdout.write('demo stopped (state left in .cache/demo; delete it to start afresh)\n');
  process.exit(0);
}

await down();
await rm(DIR, { recursive: true, force: true });
await mkdir(DIR, { recursive: true });

say('starting a local Kubernetes cluster (etcd, kube-apiserver, controller-manager, scheduler, kwok with 3 fake nodes)...');
const cp = await startControlPlane({ dir: join(DIR, 'cluster'), detached: true });
const kubectl = async (args: string[], input?: string) => {
  const p = run(join(cp.binDir, 'kubectl'), ['--kubeconfig', cp.kubeconfigPath, ...args], { maxBuffer: 1 << 24 });
  if (input !== undefined) p.child.stdin?.end(input);
  return (await p).stdout;
};

const emulatorPort = await freePort();
const emulator = `http://127.0.0.1:${emulatorPort}`;
const keyFile = join(DIR, 'management-key');
say(`starting the OpenRouter emulator on ${emulator}...`);
await background('emulator', ['emulator', '--port', String(emulatorPort), '--management-key-file', keyFile, '--state-file', join(DIR, 'emulator-state.json')]);
for (let i = 0; i < 100; i++) {
  if (await fetch(`${emulator}/_emulator/counters`).then((r) => r.ok, () => false)) break;
  await sleep(100);
}

say('installing the CRDs and the management key Secret...');
await kubectl(['apply', '-k', join(ROOT, 'crds')]);
await kubectl(['wait', '--for=condition=Established', 'crd', '--all', '--timeout=60s']);
await kubectl(['create', 'namespace', 'teamkeys-system']);
await kubectl(['-n', 'teamkeys-system', 'create', 'secret', 'generic', 'teamkeys-management-key', `--from-file=apiKey=${keyFile}`]);

const metricsPort = await freePort();
say('starting the operator...');
await background('operator', ['operator', '--kubeconfig', cp.kubeconfigPath, '--openrouter-url', `${emulator}/api/v1`, '--cluster-id', 'demo',
  '--metrics-port', String(metricsPort), '--metrics-host', '127.0.0.1', '--rate-limit-per-second', '20', '--rate-limit-burst', '20', '--min-sync-interval', '10s']);

// a real Prometheus with deploy/monitoring's alert rules, scraping the operator as the ServiceMonitor would
let prometheus = '';
if (await onPath('prometheus')) {
  const p = await startPrometheus({ dir: join(DIR, 'prometheus'), targets: [{ port: metricsPort, labels: { namespace: 'teamkeys-system', service: 'teamkeys-metrics', pod: 'teamkeys-operator' } }], interval: '2s', detached: true });
  await writeFile(join(DIR, 'prometheus.pid'), String(p.pid));
  prometheus = p.url;
  say(`Prometheus on ${prometheus} scrapes the operator every 2s, with the alert rules of deploy/monitoring loaded`);
} else {
  say('no prometheus binary (Debian: apt-get install prometheus): the demo runs without one');
}

say('applying the examples: four tiers, a team of three, a 40-person workshop, five SaaS customers...');
await kubectl(['apply', '-k', join(ROOT, 'deploy/examples')]);

say('waiting for every TeamMember to be Ready...');
type Item = { metadata: { name: string; namespace: string }; status?: { conditions?: { type: string; status: string }[] } };
let items: Item[] = [];
for (let i = 0; i < 600; i++) {
  items = (JSON.parse(await kubectl(['get', 'tm', '-A', '-o', 'json'])) as { items: Item[] }).items;
  if (items.length > 0 && items.every((m) => m.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))) break;
  await sleep(500);
}
const ready = items.filter((m) => m.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length;
say(`${ready} of ${items.length} TeamMembers Ready`);

say('simulating traffic with the keys from the generated Secrets...');
const models = ['openai/gpt-4o-mini', 'anthropic/claude-3.5-sonnet', 'openai/gpt-4.1'];
let calls = 0;
for (const [i, m] of items.entries()) {
  if (i % 3 !== 0 && m.metadata.namespace === 'workshop') continue; // a third of the workshop shows up
  const secret = JSON.parse(await kubectl(['-n', m.metadata.namespace, 'get', 'secret', `${m.metadata.name}-openrouter`, '-o', 'json'])) as { data: Record<string, string> };
  const key = Buffer.from(secret.data['OPENROUTER_API_KEY'] ?? '', 'base64').toString();
  const base = Buffer.from(secret.data['OPENROUTER_BASE_URL'] ?? '', 'base64').toString();
  const title = Buffer.from(secret.data['OPENROUTER_APP_TITLE'] ?? '', 'base64').toString();
  for (let r = 0; r < 1 + (i % 4); r++) {
    await fetch(`${base}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...(title ? { 'x-title': title } : {}) },
      body: JSON.stringify({ model: models[(i + r) % models.length], messages: [{ role: 'user', content: 'Summarise the quarterly report in three bullet points. '.repeat(40) }], max_tokens: 400 }),
    });
    calls++;
  }
}
// a big spender, to show budget warnings
const alice = (JSON.parse(await kubectl(['-n', 'ml-team', 'get', 'tm', 'alice', '-o', 'json'])) as { status: { key: { hash: string } } }).status.key.hash;
await fetch(`${emulator}/_emulator/keys/${alice}/spend`, { method: 'POST', body: JSON.stringify({ usd: 64.5 }) });
say(`${calls} chat completions sent; waiting for the operator's next usage sync...`);
for (let i = 0; i < 120; i++) {
  const a = JSON.parse(await kubectl(['-n', 'ml-team', 'get', 'tm', 'alice', '-o', 'json'])) as { status?: { usage?: { windowUSD: number } } };
  if ((a.status?.usage?.windowUSD ?? 0) > 60) break;
  await sleep(500);
}
// the emulator answers analytics as OpenRouter does (counts as JSON strings, models by permaslug): the operator's
// next usage read fills requests and top models
say('waiting for the usage analytics (requests per member, top models)...');
const usageOf = async () => (JSON.parse(await kubectl(['-n', 'ml-team', 'get', 'tm', 'alice', '-o', 'json'])) as { status?: { usage?: { requests?: number } } }).status?.usage?.requests ?? 0;
for (let i = 0; i < 120 && (await usageOf()) === 0; i++) await sleep(500);
await sleep(1_500);
/** `teamkeys <args>` from this checkout; its output whatever its exit status (doctor exits 1 on a problem) */
const teamkeys = async (args: string[]) => {
  const r = await run(process.execPath, [join(ROOT, 'src/main.ts'), ...args], { maxBuffer: 1 << 24 }).catch((e: { stdout?: string; stderr?: string }) => ({ stdout: `${e.stdout ?? ''}${e.stderr ?? ''}` }));
  return r.stdout;
};

process.stdout.write(`\n$ kubectl get keypolicies\n${await kubectl(['get', 'keypolicies'])}`);
process.stdout.write(`\n$ kubectl get teammembers -A\n${await kubectl(['get', 'teammembers', '-A'])}`);
const jsonpath = '{.status.usage.requests} requests this window; top models: {range .status.usage.models[*]}{.model} ({.requests} requests, {.usd} USD)  {end}';
process.stdout.write(`\n$ kubectl get tm alice -n ml-team -o jsonpath='${jsonpath}'\n${await kubectl(['get', 'tm', 'alice', '-n', 'ml-team', '-o', `jsonpath=${jsonpath}`])}\n`);
process.stdout.write(`\n$ kubectl teamkeys report -n ml-team --since 1d\n${await teamkeys(['report', '--kubeconfig', cp.kubeconfigPath, '-n', 'ml-team', '--since', '1d'])}`);
process.stdout.write(`\n$ kubectl teamkeys doctor -n teamkeys-system --cluster-id demo\n${await teamkeys(['doctor', '--kubeconfig', cp.kubeconfigPath, '-n', 'teamkeys-system', '--cluster-id', 'demo', '--openrouter-url', `${emulator}/api/v1`])}`);
process.stdout.write(`
The demo is running (${((Date.now() - started) / 1000).toFixed(0)} s). Poke around:
  export KUBECONFIG=${cp.kubeconfigPath}
  export PATH=${cp.binDir}:$PATH
  kubectl describe tm alice -n ml-team                    # conditions, Events (BudgetWarning)
  kubectl get secret alice-openrouter -n ml-team -o yaml  # the generated Secret
  kubectl patch tm bob -n ml-team --type merge -p '{"spec":{"suspended":true}}'
  curl -s ${emulator}/_emulator/state | head -c 600      # the emulator's view (no key strings)
  curl -s http://127.0.0.1:${metricsPort}/metrics | grep ^teamkeys_
  tail -f .cache/demo/operator.log
${prometheus ? `Prometheus (alert rules of deploy/monitoring loaded; they fire after their for: duration):
  ${prometheus}/alerts
  ${prometheus}/graph?g0.expr=${encodeURIComponent('max by (namespace, member) (teamkeys_member_spend_usd) / max by (namespace, member) (teamkeys_member_limit_usd > 0)')}
  ${prometheus}/graph?g0.expr=${encodeURIComponent('topk(10, sum by (model) (max by (policy, model) (teamkeys_model_spend_usd)))')}
  Grafana: import deploy/monitoring/dashboard.json with ${prometheus} as its Prometheus data source
` : ''}Stop everything with: make demo-down
`);
