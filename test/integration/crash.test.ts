/**
 * Invariant 2 under the harshest timing: the operator process is killed after OpenRouter created a key but
 * before the key reached its Secret. After a restart there must be exactly one live key per member and no orphan.
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { TeamMember } from '../../src/api/schema.ts';
import { Emulator } from '../../src/emulator/server.ts';
import { newSecret } from '../../src/emulator/state.ts';
import { eventually, freshNamespace, kubeConfig, memberCondition } from './kube.ts';
import { startOperatorProcess } from './process.ts';

const run = promisify(execFile);
const kc = kubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);
const mk = newSecret();
const emu = new Emulator({ managementKeys: [mk] });
const logs: string[] = [];
const children: ChildProcess[] = [];
let url = '';
let system = '';
let ns = '';
const cluster = 'crashtest';

function startOperator(): ChildProcess {
  const p = startOperatorProcess(`crash-${children.length}`, {
    KUBECONFIG: inject('kubeconfigPath'),
    POD_NAMESPACE: system,
    TEAMKEYS_CLUSTER_ID: cluster,
    TEAMKEYS_OPENROUTER_URL: `${url}/api/v1`,
    TEAMKEYS_CREDENTIALS_INTERVAL: '1s',
    TEAMKEYS_ORPHAN_GRACE: '1s',
    TEAMKEYS_MIN_SYNC_INTERVAL: '30s',
    TEAMKEYS_NAMESPACE_SELECTOR: 'teamkeys.dev/test-env=crashtest',
    TEAMKEYS_LEADER_ELECT: 'false',
  });
  p.child.stdout?.on('data', (b: Buffer) => logs.push(b.toString()));
  p.child.stderr?.on('data', (b: Buffer) => logs.push(b.toString()));
  children.push(p.child);
  return p.child;
}

const members = ['ann', 'ben', 'cat'];
const get = async (name: string) => (await custom.getNamespacedCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', namespace: ns, plural: 'teammembers', name })) as TeamMember;
const liveKeys = (name: string) => emu.store.state.keys.filter((k) => k.name.startsWith(`teamkeys/${cluster}/${ns}/${name}/`));

beforeAll(async () => {
  url = await emu.start();
  system = await freshNamespace(kc, 'crash-sys');
  ns = await freshNamespace(kc, 'crash');
  await run(join(inject('controlPlaneBinDir'), 'kubectl'), ['--kubeconfig', inject('kubeconfigPath'), 'label', 'namespace', ns, 'teamkeys.dev/test-env=crashtest']);
  await core.createNamespacedSecret({ namespace: system, body: { metadata: { name: 'teamkeys-management-key' }, stringData: { apiKey: mk } } });
  await custom.createClusterCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', plural: 'keypolicies', body: { apiVersion: 'teamkeys.dev/v1alpha1', kind: 'KeyPolicy', metadata: { name: `crash-${ns}` }, spec: { budget: { limitUSD: 3 } } } });
});
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await emu.stop();
});

describe('crash between the create call and the Secret write', () => {
  it('leaves exactly one live key per member and zero orphans after a restart', async () => {
    // every create succeeds at OpenRouter, but its answer is held back long enough to kill the operator
    emu.faults.set([{ route: 'POST /api/v1/keys', kind: 'commitThenError', times: members.length, probability: 1, status: 500, latencyMs: 60_000, retryAfterSeconds: 1 }]);
    const first = startOperator();
    for (const name of members) {
      await custom.createNamespacedCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', namespace: ns, plural: 'teammembers', body: { apiVersion: 'teamkeys.dev/v1alpha1', kind: 'TeamMember', metadata: { name }, spec: { policy: `crash-${ns}` } } });
    }
    await eventually(() => members.every((m) => liveKeys(m).length === 1) || undefined, 30_000, 'keys created at OpenRouter');
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));

    // the window: keys exist, no Secret holds them, each member recorded its intent
    for (const name of members) {
      const m = await get(name);
      expect(m.status?.pendingKey?.name).toBe(liveKeys(name)[0]?.name);
      expect(m.status?.key).toBeUndefined();
      await expect(core.readNamespacedSecret({ namespace: ns, name: `${name}-openrouter` })).rejects.toThrow();
    }

    emu.faults.clear();
    startOperator();
    for (const name of members) {
      await memberCondition(kc, ns, name);
    }
    for (const name of members) {
      const m = await get(name);
      const keys = liveKeys(name);
      expect(keys.map((k) => k.hash)).toEqual([m.status?.key?.hash]);
      expect(m.status?.pendingKey).toBeUndefined();
      const secret = await core.readNamespacedSecret({ namespace: ns, name: `${name}-openrouter` });
      const apiKey = Buffer.from(secret.data?.['OPENROUTER_API_KEY'] ?? '', 'base64').toString();
      const r = await fetch(`${url}/api/v1/key`, { headers: { authorization: `Bearer ${apiKey}` } });
      expect(r.status).toBe(200);
    }
    const ours = emu.store.state.keys.filter((k) => k.name.startsWith(`teamkeys/${cluster}/`));
    expect(ours).toHaveLength(members.length);
    expect(logs.join('')).toContain('revoked a key left behind by an interrupted create');
  }, 180_000);

  it('recovers without a restart from a create whose answer was lost on the wire', async () => {
    emu.faults.set([{ route: 'POST /api/v1/keys', kind: 'commitThenCut', times: 1, probability: 1, status: 500, latencyMs: 0, retryAfterSeconds: 1 }]);
    await custom.createNamespacedCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', namespace: ns, plural: 'teammembers', body: { apiVersion: 'teamkeys.dev/v1alpha1', kind: 'TeamMember', metadata: { name: 'dan' }, spec: { policy: `crash-${ns}` } } });
    await memberCondition(kc, ns, 'dan');
    expect(liveKeys('dan').map((k) => k.hash)).toEqual([(await get('dan')).status?.key?.hash]);
    expect(emu.counters()['POST /api/v1/keys']).toMatchObject({ '0': 1 });
  }, 120_000);

  it('never logged a key string in either process', () => {
    expect(logs.join('')).not.toMatch(/sk-or-v1-[0-9a-f]{8,}/);
  });
});
