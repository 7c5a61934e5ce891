/**
 * Never two writers: a deposed leader stops writing at once, even from a reconcile in flight (the fence), so the
 * next leader is the only one creating or revoking keys.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from './kube.ts';
import { startEnv, type Env } from './env.ts';
import { aMember, aPolicy } from '../kit/objects.ts';

let env: Env;
let ns = '';
beforeAll(async () => {
  env = await startEnv({ orphanGrace: '1s' });
  ns = await env.newNamespace('fence');
  await env.apply(aPolicy(`fence-${ns}`, { budget: { limitUSD: 3 } }));
});
afterAll(() => env.stop());

const count = (route: string) => Object.values(env.emu.counters()[route] ?? {}).reduce((a, b) => a + b, 0);
const apply = (names: string[]) => env.apply(names.map((m) => aMember(ns, m, `fence-${ns}`)));

describe('a deposed leader', () => {
  it('writes nothing more, even from a reconcile already in flight', async () => {
    await apply(['nia']);
    const hash = (await env.ready(ns, 'nia')).status?.key?.hash ?? '';
    // nothing else in flight (the policy counting its member, say): the busy worker below is the replacement
    await env.settled();
    // the replacement below first reads the old key; that read is slow, and leadership is lost meanwhile
    env.emu.faults.set([{ route: 'GET /api/v1/keys/{hash}', kind: 'latency', probability: 1, status: 200, latencyMs: 1_500, retryAfterSeconds: 0 }]);
    const reads = count('GET /api/v1/keys/{hash}');
    const writes = () => count('POST /api/v1/keys') + count('PATCH /api/v1/keys/{hash}') + count('DELETE /api/v1/keys/{hash}');
    const before = writes();
    await env.core.deleteNamespacedSecret({ namespace: ns, name: 'nia-openrouter' });
    await eventually(() => env.op.queue.busy > 0 || undefined, 10_000, 'the replacement in flight');
    env.op.depose();
    await eventually(() => (count('GET /api/v1/keys/{hash}') > reads && env.op.queue.busy === 0) || undefined, 10_000, 'the in-flight reconcile finished');
    env.emu.faults.clear();
    expect(writes()).toBe(before);
    const s = (await env.member(ns, 'nia')).status;
    expect(s?.pendingKey).toBeUndefined();
    expect(s?.key?.hash).toBe(hash);
    expect(env.emu.store.state.keys.find((k) => k.hash === hash)?.disabled).toBe(false);
    await env.startOperator(); // a new leader takes over and replaces the key as it should
    await eventually(async () => ((await env.member(ns, 'nia')).status?.key?.hash !== hash) || undefined, 15_000, 'replaced by the new leader');
  });
});

