/**
 * What only the operator can refuse (test/refusals/operator.ts): each member gets Ready=False naming the field, no
 * key is created for it at OpenRouter, and a Secret it does not own is left as it was.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { aMember, aPolicy } from '../kit/objects.ts';
import { OPERATOR_CASES } from '../refusals/operator.ts';
import { startEnv, type Env } from './env.ts';
import { eventually } from './kube.ts';

let env: Env;
beforeAll(async () => {
  env = await startEnv();
});
afterAll(() => env.stop());

it.each(OPERATOR_CASES.map((c, i) => [c.what, c, i] as const))('refuses %s', async (_what, c, i) => {
  const ns = await env.newNamespace(`refuse${i}`);
  const policy = `p-${ns}`;
  await env.apply(aPolicy(policy, c.policy));
  if (c.foreignSecret) await env.core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: c.foreignSecret }, stringData: { theirs: 'yes' } } });
  await env.apply(aMember(ns, 'm', c.member(policy)));
  const ready = await eventually(async () => (await env.member(ns, 'm')).status?.conditions?.find((x) => x.type === 'Ready' && x.status === 'False' && x.reason === c.reason), 20_000, c.reason);
  expect(ready.message).toMatch(c.message);
  expect(ready.message).toContain(c.field);
  await env.settled();
  expect((await env.member(ns, 'm')).status?.key).toBeUndefined();
  expect(env.emu.store.state.keys.filter((k) => k.name.includes(ns))).toEqual([]);
  const foreign = c.foreignSecret ? await env.secretData(ns, c.foreignSecret) : undefined;
  expect(foreign).toEqual(c.foreignSecret ? { theirs: 'yes' } : undefined);
});
