/**
 * Operators scoped to different namespaces (--namespace-selector) on one cluster, each with its own OpenRouter
 * account: one never offboards the other's members. A deleted member whose operator is down waits for it; it is
 * never "offboarded" by an operator whose account does not hold its key (a 404 there proves nothing).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { eventually, isGone } from './kube.ts';
import { startEnv, type Env } from './env.ts';
import { aMember, aPolicy } from '../kit/objects.ts';

let a: Env;
let b: Env;
beforeAll(async () => {
  [a, b] = [await startEnv(), await startEnv()];
});
afterAll(async () => {
  await a.stop();
  await b.stop();
});

it("leaves another operator's deleted member alone, and that member is offboarded once its own operator is back", async () => {
  const ns = await a.newNamespace('scoped');
  await a.apply([aPolicy(`scoped-${ns}`), aMember(ns, 'oz', `scoped-${ns}`)]);
  const hash = (await a.ready(ns, 'oz')).status?.key?.hash ?? '';
  await a.stopOperator();
  const seen = b.op.stats.reconciles;
  await a.kubectl(['delete', 'tm', 'oz', '-n', ns, '--wait=false']);
  // the other operator saw the deletion and let it be
  await eventually(() => (b.op.stats.reconciles > seen && b.op.queue.idle()) || undefined, 15_000, 'the other operator reconciled');
  const m = await a.member(ns, 'oz');
  expect(m.metadata.finalizers).toContain('teamkeys.dev/revoke-key');
  expect(a.emu.store.state.keys.find((k) => k.hash === hash)?.disabled).toBe(false);
  expect(Object.keys(b.emu.counters()).filter((r) => r.startsWith('DELETE'))).toEqual([]);
  await a.startOperator();
  await eventually(() => isGone(() => a.member(ns, 'oz')), 30_000, 'offboarded by its own operator');
  expect(a.emu.store.state.keys.find((k) => k.hash === hash)).toBeUndefined();
});
