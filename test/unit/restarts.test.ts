/**
 * The workload reconcile under the restart bound: what it writes (the restart, or the mark of a wait, once), how an
 * Argo Rollout is restarted, and what restarts nothing (a record, a policy edit, an operator restart).
 */
import type { V1Deployment } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { TeamMember } from '../../src/api/schema.ts';
import type { RestartTarget } from '../../src/kube/cluster.ts';
import { RestartLine } from '../../src/controller/restartline.ts';
import { reconcileWorkload, type RestartDeps } from '../../src/controller/restarts.ts';
import { parseWorkItem, workItemKey, workloadItem } from '../../src/controller/workitem.ts';
import type { Json } from '../../src/util/json.ts';

const T0 = Date.parse('2027-03-10T12:00:00Z');
const GENS = 'teamkeys.dev/key-generations';
const QUEUED = 'teamkeys.dev/restart-queued';

/** A member whose Secret <name>-openrouter holds key number `seq`. */
const member = (name: string, seq: number) => ({
  metadata: { name, namespace: 'team' },
  spec: { policy: 'p' },
  status: { key: { name: `teamkeys/c/team/${name}/uid-${name}/${seq}` } },
}) as unknown as TeamMember;

const deployment = (name: string, annotations: Record<string, string> = {}): RestartTarget => ({
  kind: 'Deployment',
  obj: {
    metadata: { name, namespace: 'team', uid: `u-${name}`, creationTimestamp: new Date(T0 - 86_400_000), annotations },
    spec: { selector: {}, template: { spec: { containers: [{ name: 'app', envFrom: [{ secretRef: { name: 'ann-openrouter' } }] }] } } },
  } satisfies V1Deployment,
});

const rollout = (name: string, annotations: Record<string, string> = {}): RestartTarget => ({
  kind: 'Rollout',
  obj: {
    apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout',
    metadata: { name, namespace: 'team', uid: `u-${name}`, creationTimestamp: new Date(T0 - 86_400_000), annotations },
    spec: { template: { spec: { containers: [{ name: 'app', env: [{ name: 'KEY', valueFrom: { secretKeyRef: { name: 'ann-openrouter', key: 'OPENROUTER_API_KEY' } } }] }] } } },
  },
});

function world(perNamespace = 1) {
  let now = T0;
  const patches: { name: string; patch: Json }[] = [];
  const events: { name: string; reason: string; message: string }[] = [];
  const called: string[] = [];
  const members = new Map([['ann-openrouter', member('ann', 2)]]);
  const line = new RestartLine({ bounds: { perNamespace, fleet: 60 }, clock: { now: () => now }, recentRestarts: () => [], onCall: (id) => called.push(id) });
  const deps: RestartDeps = {
    cluster: { patchWorkload: async (_kind, _ns, name, patch) => { patches.push({ name, patch }); return {}; } },
    event: async (w, reason, message) => { events.push({ name: w.obj.metadata?.name ?? '', reason, message }); },
    line, clock: { now: () => now }, memberBySecret: (_ns, secret) => members.get(secret),
  };
  const reconcile = (w: RestartTarget) => reconcileWorkload(w, workItemKey(workloadItem(w)), deps);
  return { patches, events, called, line, members, reconcile, advance: (ms: number) => { now += ms; line.pump(); } };
}

describe('a workload whose key moved on', () => {
  it('restarts at once while the bound allows: the record in its pod template, when, and no queued mark left', async () => {
    const w = world();
    await w.reconcile(deployment('web', { [GENS]: 'ann-openrouter=1' }));
    expect(w.patches).toEqual([{
      name: 'web',
      patch: {
        metadata: { annotations: { [GENS]: 'ann-openrouter=2', 'teamkeys.dev/restarted-at': '2027-03-10T12:00:00Z', [QUEUED]: null } },
        spec: { template: { metadata: { annotations: { [GENS]: 'ann-openrouter=2' } } } },
      },
    }]);
    expect(w.events.map((e) => e.reason)).toEqual(['RestartedForNewKey']);
  });

  it('over the bound, waits: marked once with the time it was queued and one RestartQueued, then restarted when called', async () => {
    const w = world();
    await w.reconcile(deployment('web', { [GENS]: 'ann-openrouter=1' }));
    await w.reconcile(deployment('api', { [GENS]: 'ann-openrouter=1' }));
    expect(w.patches[1]).toEqual({ name: 'api', patch: { metadata: { annotations: { [QUEUED]: '2027-03-10T12:00:00Z' } } } });
    expect(w.events[1]).toMatchObject({ name: 'api', reason: 'RestartQueued' });
    expect(w.events[1]?.message).toMatch(/Secret ann-openrouter holds a new key\): 0 restart\(s\) of this namespace ahead; at most 1 a minute per namespace and 60 in the cluster/);
    expect(w.line.size).toBe(1);
    // its own patch wakes it again: still waiting, nothing more written
    const marked = deployment('api', { [GENS]: 'ann-openrouter=1', [QUEUED]: '2027-03-10T12:00:00Z' });
    await w.reconcile(marked);
    expect(w.patches).toHaveLength(2);
    expect(w.events).toHaveLength(2);
    w.advance(60_000);
    expect(w.called.map((id) => parseWorkItem(id))).toEqual([{ kind: 'workload', workload: 'Deployment', namespace: 'team', name: 'api' }]);
    await w.reconcile(marked);
    expect(w.patches[2]?.patch).toMatchObject({ metadata: { annotations: { [GENS]: 'ann-openrouter=2', [QUEUED]: null } } });
    expect(w.events[2]?.message).toBe('rolling out: Secret ann-openrouter holds a new key, after waiting since 2027-03-10T12:00:00Z');
    expect(w.line.size).toBe(0);
  });

  it('restarts an Argo Rollout through spec.restartAt, its pod template untouched', async () => {
    const w = world();
    await w.reconcile(rollout('canary', { [GENS]: 'ann-openrouter=1' }));
    expect(w.patches).toEqual([{
      name: 'canary',
      patch: { metadata: { annotations: { [GENS]: 'ann-openrouter=2', 'teamkeys.dev/restarted-at': '2027-03-10T12:00:00Z', [QUEUED]: null } }, spec: { restartAt: '2027-03-10T12:00:00Z' } },
    }]);
    expect(w.events[0]?.message).toBe('restarting its pods (spec.restartAt): Secret ann-openrouter holds a new key');
    expect(parseWorkItem(workItemKey(workloadItem(rollout('canary'))))).toEqual({ kind: 'workload', workload: 'Rollout', namespace: 'team', name: 'canary' });
  });

  it('after an operator restart or a leader change, keeps its place and says nothing again', async () => {
    // a fresh line (a new process) meets two workloads marked by its predecessor, and one of its own
    const after = world();
    await after.reconcile(deployment('x', { [GENS]: 'ann-openrouter=1' }));
    await after.reconcile(deployment('late', { [GENS]: 'ann-openrouter=1', [QUEUED]: '2027-03-10T11:59:00Z' }));
    await after.reconcile(deployment('early', { [GENS]: 'ann-openrouter=1', [QUEUED]: '2027-03-10T11:58:00Z' }));
    expect(after.events.map((e) => `${e.name} ${e.reason}`)).toEqual(['x RestartedForNewKey']);
    expect(after.patches.map((p) => p.name)).toEqual(['x']);
    after.advance(60_000);
    after.advance(60_000);
    expect(after.called.map((id) => parseWorkItem(id))).toMatchObject([{ name: 'early' }, { name: 'late' }]);
  });
});

describe('what restarts nothing', () => {
  it('a first sight records; a workload already at the current generation (an operator restart, a policy edit) writes nothing', async () => {
    const w = world();
    await w.reconcile(deployment('new'));
    expect(w.patches).toEqual([{ name: 'new', patch: { metadata: { annotations: { [GENS]: 'ann-openrouter=2' } } } }]);
    // a policy edit changes the member's status (limits, usage) but not its key: the same generation
    w.members.set('ann-openrouter', { ...member('ann', 2), status: { ...member('ann', 2).status, usage: { windowUSD: 3 } } } as unknown as TeamMember);
    await w.reconcile(deployment('web', { [GENS]: 'ann-openrouter=2' }));
    expect(w.patches).toHaveLength(1);
    expect(w.events).toEqual([]);
  });

  it('a queued restart no longer needed leaves the line and its mark', async () => {
    const w = world();
    await w.reconcile(deployment('web', { [GENS]: 'ann-openrouter=1' }));
    await w.reconcile(deployment('api', { [GENS]: 'ann-openrouter=1' }));
    expect(w.line.size).toBe(1);
    // someone (or an earlier restart) recorded the current generation meanwhile
    await w.reconcile(deployment('api', { [GENS]: 'ann-openrouter=2', [QUEUED]: '2027-03-10T12:00:00Z' }));
    expect(w.patches[2]).toEqual({ name: 'api', patch: { metadata: { annotations: { [QUEUED]: null } } } });
    expect(w.line.size).toBe(0);
  });
});
