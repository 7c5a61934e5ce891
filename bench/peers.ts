/**
 * `make bench-peers`: teamkeys side by side with External Secrets Operator v0.16.2 (its Webhook generator POSTing to
 * OpenRouter's key API), on one local cluster and one emulator, one peer after the other, each in its own
 * namespaces and as its own Kubernetes user (bench/peers-kube.ts says how its requests are counted):
 *   ESO with its default 1 worker, with --concurrent=16, with --concurrent=16 and its client-side rate limit lifted,
 *   and teamkeys (16 workers, as bench/scale.ts runs it).
 * BENCH_PEERS_N members (default 1000). Prints a markdown table, writes JSON to bench/results/. Asserts nothing.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { GROUP, VERSION } from '../src/api/schema.ts';
import { Emulator } from '../src/emulator/server.ts';
import { newSecret } from '../src/emulator/state.ts';
import { apiClient } from '../src/kube/pool.ts';
import { freePort } from '../test/controlplane/controlplane.ts';
import { startOperatorProcess } from '../test/integration/process.ts';
import { aMember, aPolicy, toYaml } from '../test/kit/objects.ts';
import { metricSum } from './measure.ts';
import { anExternalSecret, esoNamespaceObjects, ESO_GROUP, ESO_VERSION, installEso, startEso } from './peers-eso.ts';
import { runPeer, type Peer, type PeerResult } from './peers-run.ts';
import { machine } from './report.ts';
import { IMAGE_NODE_ARGS, benchCluster, imageMalloc, pause } from './setup.ts';

const ROOT = join(import.meta.dirname, '..');
const N = Number(process.env['BENCH_PEERS_N'] ?? 1000);
const MANAGED = { 'bench.teamkeys.dev/managed': 'true' };
const COUNTED = 'Kubernetes requests: every request the API server let through for the peer\'s own user (a client certificate bound to cluster-admin), '
  + 'from kube-apiserver\'s apiserver_flowcontrol_dispatched_requests_total under two FlowSchemas that match only that user (writes: create/update/patch/delete; '
  + 'reads: everything else, watches and discovery included), before and after; the bench client (system:masters) is counted apart. OpenRouter calls: the emulator\'s counters.';

const { cp, kubectl, kc } = await benchCluster();
const mk = newSecret();
const emu = new Emulator({ managementKeys: [mk] });
try {
  const core = apiClient(kc, CoreV1Api);
  const custom = apiClient(kc, CustomObjectsApi);
  const url = await emu.start();
  const bin = await installEso(kubectl);
  await core.createNamespace({ body: { metadata: { name: 'teamkeys-system' } } });
  await core.createNamespacedSecret({ namespace: 'teamkeys-system', body: { metadata: { name: 'teamkeys-management-key' }, stringData: { apiKey: mk } } });
  const sum = (text: string, name: string, ...labels: string[]) => metricSum(text, name, (l) => labels.every((x) => l.includes(x)));
  const eso = (id: string, flags: string[]): Peer => ({
    label: `ESO v0.16.2, ${flags.join(' ') || '1 worker (its default)'}`,
    id: `peer-eso-${id}`,
    kind: { group: ESO_GROUP, version: ESO_VERSION, plural: 'externalsecrets' },
    prepare: async (namespace) => {
      await core.createNamespace({ body: { metadata: { name: namespace } } });
      await kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: esoNamespaceObjects(namespace, url, mk) }));
    },
    start: async (kubeconfigPath) => {
      const p = await startEso(bin, kubeconfigPath, flags);
      return {
        pid: p.child.pid ?? 0, stop: () => p.stop(),
        readyHint: async (ns) => sum(await p.metrics(), 'externalsecret_status_condition', `namespace="${ns}"`, 'condition="Ready"', 'status="True"'),
      };
    },
    create: (namespace, name) => custom.createNamespacedCustomObject({ group: ESO_GROUP, version: ESO_VERSION, namespace, plural: 'externalsecrets', body: anExternalSecret(namespace, name) }),
  });
  const teamkeys: Peer = {
    label: 'teamkeys (16 workers)',
    id: 'peer-teamkeys',
    kind: { group: GROUP, version: VERSION, plural: 'teammembers' },
    prepare: async (namespace) => {
      await core.createNamespace({ body: { metadata: { name: namespace, labels: MANAGED } } });
      await kubectl(['apply', '-f', '-'], toYaml(aPolicy(`p-${namespace}`, { budget: { limitUSD: 5 } })));
    },
    start: async (kubeconfigPath) => {
      const port = await freePort();
      // as bench/scale.ts runs it: the image's Node flags and malloc settings, the Deployment's heap cap
      const op = startOperatorProcess('bench-peers', {
        ...imageMalloc(), KUBECONFIG: kubeconfigPath, POD_NAMESPACE: 'teamkeys-system', TEAMKEYS_NAMESPACE_SELECTOR: 'bench.teamkeys.dev/managed=true', TEAMKEYS_OPENROUTER_URL: `${url}/api/v1`,
        TEAMKEYS_LEADER_ELECT: 'false', TEAMKEYS_MIN_SYNC_INTERVAL: '1h', LOG_LEVEL: 'warn', TEAMKEYS_METRICS_PORT: String(port),
      }, { entry: join(ROOT, 'dist/main.js'), nodeArgs: IMAGE_NODE_ARGS.split(' ') });
      const metrics = async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      while (!/^teamkeys_ready 1$/m.test(await metrics().catch(() => ''))) {
        if (op.child.exitCode !== null) throw new Error(`the operator exited: ${op.logs.join('').slice(-2000)}`);
        await pause(100);
      }
      return {
        pid: op.child.pid ?? 0,
        readyHint: async (ns) => sum(await metrics(), 'teamkeys_policy_ready_members', `policy="p-${ns}"`),
        stop: async () => {
          op.child.kill('SIGTERM');
          await op.exited;
        },
      };
    },
    create: (namespace, name) => custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: 'teammembers', body: aMember(namespace, name, `p-${namespace}`) }),
  };
  const rows: PeerResult[] = [];
  // ESO's client-side rate limit (--client-qps 50, --client-burst 100) is what holds 16 workers back: the third row lifts it
  const peers = [eso('default', []), eso('c16', ['--concurrent=16']), eso('c16-qps', ['--concurrent=16', '--client-qps=1000', '--client-burst=2000']), teamkeys];
  for (const peer of peers) rows.push(await runPeer({ cp, kubectl, core, custom, emu }, peer, N));
  process.stdout.write(`${table(rows)}\n\n${COUNTED}\n`);
  await mkdir(join(ROOT, 'bench/results'), { recursive: true });
  const file = join(ROOT, 'bench/results', `${new Date().toISOString().slice(0, 16).replace(/[:T]/g, '-')}-peers.json`);
  await writeFile(file, `${JSON.stringify({ at: new Date().toISOString(), machine: machine(), members: N, counted: COUNTED, peers: rows }, null, 2)}\n`);
  process.stdout.write(`wrote ${file.replace(`${ROOT}/`, '')}\n`);
} finally {
  await emu.stop();
  await cp.stop();
}

function table(rows: readonly PeerResult[]): string {
  const f = (v: number, d = 1) => (Number.isFinite(v) ? v.toFixed(d) : '-');
  const s = (ms: number) => (ms >= 1000 ? `${f(ms / 1000)} s` : `${f(ms, 0)} ms`);
  const head = ['peer', 'N (Ready)', 'members/s', 'apply→Ready p50 / p99', 'k8s requests/member (writes + reads)', 'OpenRouter calls/member', 'RSS peak / final', 'CPU s', 'delete: members gone, k8s req/member, OpenRouter calls/member', 'keys left enabled'];
  const lines = rows.map((r) => [
    r.peer, `${r.members} (${r.ready})`, f(r.membersPerSecond), `${s(r.readyMs.p50)} / ${s(r.readyMs.p99)}`,
    `${f(r.kubernetesPerMember.writes + r.kubernetesPerMember.reads, 2)} (${f(r.kubernetesPerMember.writes, 2)} + ${f(r.kubernetesPerMember.reads, 2)})`,
    f(r.openrouterCallsPerMember, 2), `${f(r.rssPeakMB, 0)} / ${f(r.rssFinalMB, 0)} MB`, f(r.cpuSeconds),
    `${f(r.deleteSeconds)} s, ${f(r.kubernetesPerMemberOnDelete.writes + r.kubernetesPerMemberOnDelete.reads, 2)}, ${f(r.openrouterCallsPerMemberOnDelete, 2)}`,
    `${r.keysLeftEnabled} of ${r.keysCreated}`,
  ]);
  return [head, head.map(() => '---'), ...lines].map((c) => `| ${c.join(' | ')} |`).join('\n');
}
