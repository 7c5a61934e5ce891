/** Two operator processes on one Lease: only the leader reconciles; when it is SIGKILLed the other takes over. */
import { CoreV1Api, CoordinationV1Api, CustomObjectsApi, EventsV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Emulator } from '../../src/emulator/server.ts';
import { newSecret } from '../../src/emulator/state.ts';
import { MERGE, eventually, freshNamespace, kubeConfig, memberCondition } from './kube.ts';
import { startOperatorProcess, type OperatorProcess } from './process.ts';
import { clusterHaystack, expectNoLeaks, IssuedKeys } from './scan.ts';
import { aMember, aPolicy } from '../kit/objects.ts';

const kc = kubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);
const mk = newSecret();
const issued = new IssuedKeys();
const emu = new Emulator({ managementKeys: [mk], onIssued: issued.collect });
const procs: OperatorProcess[] = [];
let system = '';
let ns = '';

const port = (p: OperatorProcess) => Number(/"metricsPort":(\d+)/.exec(p.logs.join(''))?.[1] ?? 0);
const probe = async (p: OperatorProcess, path: string) => {
  const r = await fetch(`http://127.0.0.1:${port(p)}${path}`);
  return { status: r.status, text: await r.text() };
};
const member = (name: string) => custom.createNamespacedCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', namespace: ns, plural: 'teammembers', body: aMember(ns, name, `le-${ns}`) });
const ready = (name: string) => memberCondition(kc, ns, name);

beforeAll(async () => {
  const url = await emu.start();
  system = await freshNamespace(kc, 'le-sys');
  ns = await freshNamespace(kc, 'le');
  for (const n of [system, ns]) await core.patchNamespace({ name: n, body: { metadata: { labels: { 'teamkeys.dev/test-env': 'leader' } } } }, MERGE);
  await core.createNamespacedSecret({ namespace: system, body: { metadata: { name: 'teamkeys-management-key' }, stringData: { apiKey: mk } } });
  await custom.createClusterCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', plural: 'keypolicies', body: aPolicy(`le-${ns}`) });
  for (const id of ['replica-a', 'replica-b']) {
    procs.push(startOperatorProcess(id, {
      KUBECONFIG: inject('kubeconfigPath'),
      POD_NAMESPACE: system,
      TEAMKEYS_CLUSTER_ID: 'leader',
      TEAMKEYS_OPENROUTER_URL: `${url}/api/v1`,
      TEAMKEYS_NAMESPACE_SELECTOR: 'teamkeys.dev/test-env=leader',
      TEAMKEYS_CREDENTIALS_INTERVAL: '2s',
    }));
  }
});
afterAll(async () => {
  for (const p of procs) p.child.kill('SIGKILL');
  try {
    expectNoLeaks([mk, ...issued.all], [...procs.map((p) => ({ where: `the log of ${p.identity}`, text: p.logs.join('') })), { where: "the emulator's state file", text: JSON.stringify(emu.store.state) }, ...(await clusterHaystack(kc, core, custom, [system, ns]))]);
  } finally {
    await emu.stop();
  }
});

describe('leader election', () => {
  it('lets exactly one replica reconcile, and the other take over within 20 s of a SIGKILL', async () => {
    await eventually(() => procs.some((p) => p.logged('became leader')) || undefined, 30_000, 'a leader');
    await new Promise((r) => setTimeout(r, 3_000)); // several retry periods: the other must still be standing by
    const leaders = procs.filter((p) => p.logged('became leader'));
    expect(leaders).toHaveLength(1);
    const leader = leaders[0]!;
    const standby = procs.find((p) => p !== leader)!;
    for (const p of procs) await eventually(async () => ((await probe(p, '/readyz')).status === 200) || undefined, 20_000, `${p.identity} ready`);
    expect((await probe(leader, '/metrics')).text).toMatch(/^teamkeys_leader 1$/m);
    expect((await probe(standby, '/metrics')).text).toMatch(/^teamkeys_leader 0$/m);

    for (const name of ['m1', 'm2', 'm3']) await member(name);
    // a member naming no policy: its Warning Event says which replica reconciled it
    await custom.createNamespacedCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', namespace: ns, plural: 'teammembers', body: aMember(ns, 'lost', `missing-${ns}`) });
    for (const name of ['m1', 'm2', 'm3']) await ready(name);
    const events = await eventually(async () => {
      const items = (await kc.makeApiClient(EventsV1Api).listNamespacedEvent({ namespace: ns })).items;
      return items.some((e) => e.reason === 'PolicyNotFound') ? items : undefined;
    }, 20_000, 'the PolicyNotFound Event');
    expect(new Set(events.map((e) => e.reportingInstance))).toEqual(new Set([leader.identity]));
    // the standby's member reconcile counters exist from the start, and stay at 0; the leader's moved
    const reconciled = (text: string) => [...text.matchAll(/^teamkeys_reconcile_total\{resource="teammember",result="\w+"\} (\d+)/gm)].map((x) => Number(x[1]));
    expect(reconciled((await probe(standby, '/metrics')).text)).toEqual([0, 0, 0, 0]);
    expect(reconciled((await probe(leader, '/metrics')).text).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);

    leader.child.kill('SIGKILL');
    const killedAt = Date.now();
    for (const name of ['m4', 'm5', 'm6']) await member(name); // a backlog for the new leader
    await eventually(() => standby.logged('became leader') || undefined, 30_000, 'takeover');
    const takeoverMs = Date.now() - killedAt;
    expect(takeoverMs).toBeLessThan(20_000);
    for (const name of ['m4', 'm5', 'm6']) await ready(name);
    const lease = await kc.makeApiClient(CoordinationV1Api).readNamespacedLease({ namespace: system, name: 'teamkeys-operator' });
    expect(lease.spec).toMatchObject({ holderIdentity: standby.identity, leaseDurationSeconds: 15, leaseTransitions: 1 });

    // a graceful stop drains, releases the lease and exits 0
    standby.child.kill('SIGTERM');
    expect(await standby.exited).toBe(0);
    const released = await kc.makeApiClient(CoordinationV1Api).readNamespacedLease({ namespace: system, name: 'teamkeys-operator' });
    expect(released.spec?.holderIdentity ?? '').toBe('');
    expect(standby.logs.join('')).not.toMatch(/sk-or-v1-[0-9a-f]{8,}/);
  }, 120_000);
});
