/**
 * Failures back off, and what a person asks for does not wait behind them: a create that keeps failing is
 * retried with a growing delay (not once a second), while a deletion or suspension of a member that is backing
 * off reaches OpenRouter at once.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MERGE, eventually, isGone } from './kube.ts';
import { startEnv, type Env } from './env.ts';
import { expectNoKeyStrings } from './scan.ts';
import type { WorkItem } from '../../src/controller/workitem.ts';
import { aMember, aPolicy, type MemberSpec } from '../kit/objects.ts';

let env: Env;
let ns = '';
beforeAll(async () => {
  env = await startEnv();
  ns = await env.newNamespace('backoff');
  await env.apply(aPolicy(`backoff-${ns}`, { budget: { limitUSD: 3 } }));
});
afterAll(() => env.stop());
afterEach(() => env.emu.faults.clear());

const apply = (name: string, spec: Omit<MemberSpec, 'policy'> = {}) => env.apply(aMember(ns, name, { policy: `backoff-${ns}`, ...spec }));
const calls = (route: string, code: string) => env.emu.counters()[route]?.[code] ?? 0;
const key = (name: string): WorkItem => ({ kind: 'member', namespace: ns, name });
/** Waits until the member's failure backoff has grown to at least `ms`, and returns when it will end. */
const backingOff = async (name: string, ms: number) => {
  await eventually(() => env.op.queue.backoffLeft(key(name)) >= ms || undefined, 30_000, `${name} backing off ${ms} ms`);
  return Date.now() + env.op.queue.backoffLeft(key(name));
};

describe('a create that keeps failing', () => {
  it('is retried with a growing delay, and converges to exactly one key once OpenRouter answers again', async () => {
    env.emu.faults.set([{ route: 'POST /api/v1/keys', kind: 'error', probability: 1, status: 500, latencyMs: 0, retryAfterSeconds: 1 }]);
    await apply('fay');
    await backingOff('fay', 3_500);
    // the delays doubled from 0.5 s: 0.5, 1, 2, 4 — at most four failed creates (a status write that met a
    // stale cache counts as a failure too), not one a second
    const attempts = calls('POST /api/v1/keys', '500');
    expect(attempts).toBeGreaterThanOrEqual(2);
    expect(attempts).toBeLessThanOrEqual(5);
    env.emu.faults.clear();
    const m = await env.ready(ns, 'fay', 30_000);
    expect(env.emu.store.state.keys.filter((k) => k.name.includes(`/${ns}/fay/`))).toHaveLength(1);
    // a first key's creates record nothing before them: each attempt had the same name (its intent), and the one
    // that succeeded is the member's first key
    expect(m.status?.keySeq).toBe(1);
  });
});

describe('what a person asks for jumps the backoff', () => {
  it('suspends a member at once while its reconcile is backing off', async () => {
    await apply('gus');
    const hash = (await env.ready(ns, 'gus')).status?.key?.hash ?? '';
    // its limit change fails at OpenRouter four reconciles running (each tries the PATCH 3 times): it backs off
    env.emu.faults.set([{ route: 'PATCH /api/v1/keys/{hash}', kind: 'error', times: 12, probability: 1, status: 500, latencyMs: 0, retryAfterSeconds: 0 }]);
    await apply('gus', { limitUSD: 2 });
    // all twelve refusals used up (each reconcile tries the PATCH 3 times; a stale-cache conflict may add a failure)
    await eventually(() => calls('PATCH /api/v1/keys/{hash}', '500') === 12 || undefined, 30_000, 'the refusals used up');
    const until = await backingOff('gus', 2_000);
    await env.custom.patchNamespacedCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', namespace: ns, plural: 'teammembers', name: 'gus', body: { spec: { suspended: true } } }, MERGE);
    await eventually(() => env.emu.store.state.keys.find((k) => k.hash === hash)?.disabled || undefined, 10_000, 'key disabled');
    expect(Date.now()).toBeLessThan(until);
  });

  it('deletes a member at once while its reconcile is backing off', async () => {
    await apply('hal');
    const hash = (await env.ready(ns, 'hal')).status?.key?.hash ?? '';
    env.emu.faults.set([{ route: 'PATCH /api/v1/keys/{hash}', kind: 'error', probability: 1, status: 500, latencyMs: 0, retryAfterSeconds: 1 }]);
    await apply('hal', { limitUSD: 2 });
    const until = await backingOff('hal', 3_500);
    await env.kubectl(['delete', 'tm', 'hal', '-n', ns, '--wait=false']);
    await eventually(() => isGone(() => env.member(ns, 'hal')), 10_000, 'member gone');
    expect(Date.now()).toBeLessThan(until);
    expect(env.emu.store.state.keys.find((k) => k.hash === hash)).toBeUndefined();
  });
});

it('leaks no key string into logs, Events or statuses', async () => {
  await expectNoKeyStrings(env, [ns]);
});
