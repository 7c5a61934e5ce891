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
import { MERGE, eventually, freshNamespace, kubeConfig, memberCondition } from './kube.ts';
import { startOperatorProcess } from './process.ts';
import { clusterHaystack, expectNoLeaks, IssuedKeys } from './scan.ts';
import { aMember, aPolicy } from '../kit/objects.ts';
import { nextKeyName } from '../../src/controller/member/plan.ts';

const run = promisify(execFile);
const kc = kubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);
const mk = newSecret();
const issued = new IssuedKeys();
const emu = new Emulator({ managementKeys: [mk], onIssued: issued.collect });
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
  await custom.createClusterCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', plural: 'keypolicies', body: aPolicy(`crash-${ns}`, { budget: { limitUSD: 3 } }) });
});
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  try {
    expectNoLeaks([mk, ...issued.all], [{ where: 'the operator logs', text: logs.join('') }, { where: "the emulator's state file", text: JSON.stringify(emu.store.state) }, ...(await clusterHaystack(kc, core, custom, [system, ns]))]);
  } finally {
    await emu.stop();
  }
});

describe('crash between the create call and the Secret write', () => {
  it('leaves exactly one live key per member and zero orphans after a restart', async () => {
    // every create succeeds at OpenRouter, but its answer is held back long enough to kill the operator
    emu.faults.set([{ route: 'POST /api/v1/keys', kind: 'commitThenError', times: members.length, probability: 1, status: 500, latencyMs: 60_000, retryAfterSeconds: 1 }]);
    const first = startOperator();
    for (const name of members) {
      await custom.createNamespacedCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', namespace: ns, plural: 'teammembers', body: aMember(ns, name, `crash-${ns}`) });
    }
    await eventually(() => members.every((m) => liveKeys(m).length === 1) || undefined, 30_000, 'keys created at OpenRouter');
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));

    // the window: keys exist, no Secret holds them; a first key's intent is its name, the next in sequence
    for (const name of members) {
      const m = await get(name);
      expect(m.status?.pendingKey).toBeUndefined();
      expect(liveKeys(name)[0]?.name).toBe(nextKeyName(cluster, m, m.status ?? {}));
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
    await custom.createNamespacedCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', namespace: ns, plural: 'teammembers', body: aMember(ns, 'dan', `crash-${ns}`) });
    await memberCondition(kc, ns, 'dan');
    expect(liveKeys('dan').map((k) => k.hash)).toEqual([(await get('dan')).status?.key?.hash]);
    expect(emu.counters()['POST /api/v1/keys']).toMatchObject({ '0': 1 });
  }, 120_000);

  it('a SIGKILL in the middle of rotations: one active key per member, at most one draining, nothing orphaned', async () => {
    for (const c of children) c.kill('SIGKILL');
    // every rotation's create succeeds at OpenRouter, but its answer is held back long enough to kill the operator
    emu.faults.set([{ route: 'POST /api/v1/keys', kind: 'commitThenError', times: members.length, probability: 1, status: 500, latencyMs: 60_000, retryAfterSeconds: 1 }]);
    const op = startOperator();
    const before = new Map<string, string>();
    for (const name of members) {
      before.set(name, (await get(name)).status?.key?.hash ?? '');
      await custom.patchNamespacedCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', namespace: ns, plural: 'teammembers', name, body: { metadata: { annotations: { 'teamkeys.dev/rotate': 'kill-1' } } } }, MERGE);
    }
    const enabled = (name: string) => liveKeys(name).filter((k) => !k.disabled);
    await eventually(() => members.every((m) => enabled(m).length === 2) || undefined, 30_000, 'the rotations\' keys created at OpenRouter');
    op.kill('SIGKILL');
    await new Promise((r) => op.once('exit', r));
    for (const name of members) {
      const st = (await get(name)).status;
      expect(st?.pendingKey?.rotation).toMatchObject({ trigger: 'Requested', request: 'kill-1', from: before.get(name) });
      expect(st?.previousKeys?.find((p) => p.hash === before.get(name))?.state).toBe('Draining');
    }

    emu.faults.clear();
    startOperator();
    for (const name of members) {
      const st = await eventually(async () => {
        const s = (await get(name)).status;
        return (s?.rotation?.count ?? 0) >= 1 && !s?.pendingKey ? s : undefined;
      }, 60_000, `${name} rotated after the restart`);
      const draining = (st.previousKeys ?? []).filter((p) => p.state === 'Draining').map((p) => p.hash);
      expect(draining).toEqual([before.get(name)]);
      expect(enabled(name).map((k) => k.hash).toSorted()).toEqual([st.key?.hash ?? '', ...draining].toSorted());
      const secret = await core.readNamespacedSecret({ namespace: ns, name: `${name}-openrouter` });
      const apiKey = Buffer.from(secret.data?.['OPENROUTER_API_KEY'] ?? '', 'base64').toString();
      expect((await fetch(`${url}/api/v1/key`, { headers: { authorization: `Bearer ${apiKey}` } })).status).toBe(200);
      expect(st.rotation?.lastRequest).toBe('kill-1');
    }
  }, 180_000);

  it('never logged a key string in either process', () => {
    expect(logs.join('')).not.toMatch(/sk-or-v1-[0-9a-f]{8,}/);
  });
});
