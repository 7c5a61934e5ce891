/**
 * Argo Rollouts: with no Argo installed the operator looks for it and finds nothing, quietly; once Argo's own Rollout
 * CRD (argoproj/argo-rollouts, fetched from the Go module proxy: rollout.ts argoRolloutsCrd) is installed, an
 * opted-in Rollout is restarted through spec.restartAt, its pod template untouched; when the CRD goes, so does the
 * watch, without a retry loop. No Argo controller runs here: what is tested is what teamkeys writes.
 */
import { CustomObjectsApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from './kube.ts';
import { startEnv, type Env } from './env.ts';
import { ARGO_ROLLOUTS_VERSION, ROLLOUTS, argoRolloutsCrd, createRollout } from './rollout.ts';
import { aMember, aPolicy } from '../kit/objects.ts';

const OPT_IN = { 'teamkeys.dev/restart-on-rotation': 'true' };
const CRD = 'rollouts.argoproj.io';

interface RolloutObject {
  metadata?: { annotations?: Record<string, string>; generation?: number };
  spec?: { restartAt?: string; template?: { metadata?: { annotations?: Record<string, string> } } };
}

let env: Env;
let n = '';
let crdPath = '';
beforeAll(async () => {
  crdPath = await argoRolloutsCrd();
  env = await startEnv({ orphanGrace: '1s' });
  env.clock.set(Date.parse('2027-03-10T12:00:00Z'));
  n = await env.newNamespace('argo');
  await env.apply(aPolicy(`argo-${n}`, { budget: { limitUSD: 10 }, rotation: { overlap: '10m' } }));
  for (const name of ['ann', 'bo']) {
    await env.apply(aMember(n, name, `argo-${n}`));
    await env.ready(n, name);
  }
}, 180_000);
afterAll(async () => {
  await env.kubectl(['delete', 'crd', CRD, '--ignore-not-found']);
  await env.stop();
});

const custom = () => env.kc.makeApiClient(CustomObjectsApi);
const read = async (name: string) => (await custom().getNamespacedCustomObject({ ...ROLLOUTS, namespace: n, name })) as RolloutObject;
const rotate = (name: string) => env.kubectl(['annotate', 'tm', name, '-n', n, '--overwrite', 'teamkeys.dev/rotate=x']);
const logged = (pattern: RegExp) => env.logs.filter((l) => pattern.test(l));
const crdName = async () => (await env.kubectl(['get', 'crd', CRD, '--ignore-not-found', '-o', 'name'])).stdout.trim();

describe('Argo Rollouts', () => {
  it('absent: the operator looks, finds nothing, and logs no error', async () => {
    expect(await crdName(), 'no Argo in this cluster yet').toBe('');
    await env.op.lookForRollouts();
    await env.op.lookForRollouts();
    expect(logged(/rollout/i).filter((l) => /"level":(40|50)/.test(l))).toEqual([]);
    expect(logged(/Argo Rollouts are served/)).toEqual([]);
  });

  it(`installed later (Argo Rollouts ${ARGO_ROLLOUTS_VERSION}'s CRD): an opted-in Rollout is restarted through spec.restartAt`, async () => {
    await env.kubectl(['apply', '--server-side', '-f', crdPath]);
    await eventually(async () => (await env.kubectl(['get', 'crd', CRD, '-o', 'jsonpath={.status.conditions[?(@.type=="Established")].status}'])).stdout === 'True' || undefined, 60_000, 'CRD established');
    await env.op.lookForRollouts();
    expect(logged(/Argo Rollouts are served/)).toHaveLength(1);
    await createRollout(env.kc, n, 'canary', { secretName: 'ann-openrouter', labels: OPT_IN });
    await createRollout(env.kc, n, 'plain', { secretName: 'ann-openrouter' });
    await eventually(async () => ((await read('canary')).metadata?.annotations?.['teamkeys.dev/key-generations'] === 'ann-openrouter=1') || undefined, 15_000, 'generation recorded');
    expect((await read('canary')).spec?.restartAt, 'opting in restarts nothing').toBeUndefined();

    await rotate('ann');
    const r = await eventually(async () => {
      const o = await read('canary');
      return o.spec?.restartAt ? o : undefined;
    }, 30_000, 'restartAt set');
    // now, on the operator's clock, as RFC 3339; the record on the Rollout, never in its pod template
    expect(Date.parse(r.spec?.restartAt ?? '')).toBeGreaterThanOrEqual(Date.parse('2027-03-10T12:00:00Z'));
    expect(r.spec?.restartAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(r.metadata?.annotations).toMatchObject({ 'teamkeys.dev/key-generations': 'ann-openrouter=2', 'teamkeys.dev/restarted-at': r.spec?.restartAt });
    expect(Object.keys(r.spec?.template?.metadata?.annotations ?? {}).filter((k) => k.startsWith('teamkeys.dev/'))).toEqual([]);
    const events = await eventually(async () => {
      const on = (await env.events(n)).filter((e) => e.regarding?.kind === 'Rollout' && e.reason === 'RestartedForNewKey');
      return on.length > 0 ? on : undefined;
    }, 10_000, 'RestartedForNewKey on the Rollout');
    expect(events.map((e) => `${e.regarding?.apiVersion} ${e.regarding?.name}`)).toEqual(['argoproj.io/v1alpha1 canary']);

    // once only, and never one that did not opt in
    await env.op.sync();
    await env.settled(30_000, 500, 3_000);
    expect((await read('canary')).spec?.restartAt).toBe(r.spec?.restartAt);
    expect((await read('plain')).spec?.restartAt).toBeUndefined();
    expect((await read('plain')).metadata?.annotations?.['teamkeys.dev/key-generations']).toBeUndefined();
  });

  it('removed: the watch goes quietly', async () => {
    await env.kubectl(['delete', 'crd', CRD]);
    await eventually(async () => (await crdName()) === '' || undefined, 30_000, 'CRD gone');
    // the watch ends; the operator looks again, and stops watching (at the latest at its next look)
    await env.op.lookForRollouts();
    await eventually(() => logged(/Argo Rollouts are no longer served/).length === 1 || undefined, 15_000, 'watch stopped');
    const at = env.logs.length;
    // a rotation meanwhile: the Deployments' side goes on; nothing about Rollouts fails
    await rotate('bo');
    await env.op.sync();
    await env.settled(30_000, 500, 3_000);
    expect(env.logs.slice(at).filter((l) => /rollout/i.test(l) && /"level":(40|50)/.test(l))).toEqual([]);
  });
});
