import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEnv, type Env } from './env.ts';
import { MERGE } from './kube.ts';
import { aMember, aPolicy } from '../kit/objects.ts';

let env: Env;
beforeAll(async () => {
  env = await startEnv();
  // a fixed instant (mid-month, midday): the request's spend is read back in the monthly window it was made in,
  // whatever the date
  env.clock.set(Date.parse('2027-03-10T12:00:00Z'));
});
afterAll(() => env.stop());

describe('apply YAML -> Secret with a working key -> status', () => {
  it('provisions a key for a member and reports limit and usage', async () => {
    const ns = await env.newNamespace('team-a');
    await env.apply([
      aPolicy(`basic-${ns}`, { budget: { limitUSD: 5, reset: 'monthly' }, secretTemplate: { attribution: { title: 'app:{{member}}' } } }),
      aMember(ns, 'alice', { policy: `basic-${ns}`, displayName: 'Alice' }),
    ]);
    const m = await env.ready(ns, 'alice');
    expect(m.status).toMatchObject({ secretName: 'alice-openrouter', budget: { limitUSD: 5, reset: 'monthly', remainingUSD: 5 }, key: { limitUSD: 5, reset: 'monthly', disabled: false } });
    const data = await env.secretData(ns, 'alice-openrouter');
    expect(data['OPENROUTER_API_KEY']).toMatch(/^sk-or-v1-/);
    expect(data['OPENROUTER_BASE_URL']).toBe(`${env.emuUrl}/api/v1`);
    expect(data['OPENROUTER_APP_TITLE']).toBe('app:alice');
    const r = await env.chat(data['OPENROUTER_API_KEY'] ?? '');
    expect(r.status).toBe(200);
    await env.op.sync();
    await env.settled();
    const after = await env.member(ns, 'alice');
    expect(after.status?.usage?.windowUSD).toBeGreaterThan(0);
    const { stdout } = await env.kubectl(['get', 'tm', '-n', ns]);
    expect(stdout).toMatch(/NAME\s+READY\s+REASON\s+POLICY\s+LIMIT\s+USED\s+REMAINING\s+RESET\s+AGE/);
    expect(stdout).toMatch(/alice\s+True\s+KeyReady\s+basic-/);
  });

  it('the hunt for key strings that ends every test file finds one put where none may be', async () => {
    const ns = await env.newNamespace('leak');
    await env.apply([aPolicy(`leak-${ns}`), aMember(ns, 'bob', `leak-${ns}`)]);
    await env.ready(ns, 'bob');
    const key = (await env.secretData(ns, 'bob-openrouter'))['OPENROUTER_API_KEY'] ?? '';
    expect(await env.leaks()).toEqual([]);
    // as a careless edit would: the key copied into an annotation of its Secret, and half of it into a log line
    await env.core.patchNamespacedSecret({ namespace: ns, name: 'bob-openrouter', body: { metadata: { annotations: { note: key } } } }, MERGE);
    env.logs.push(`{"msg":"debug ${key.slice(-32)}"}\n`);
    const tail = key.slice(-4);
    expect((await env.leaks()).toSorted()).toEqual([
      `Secret metadata in ${ns}: the first half of key …${tail}`,
      `Secret metadata in ${ns}: the second half of key …${tail}`,
      `the operator log: the second half of key …${tail}`,
    ]);
    env.logs.pop();
    await env.core.patchNamespacedSecret({ namespace: ns, name: 'bob-openrouter', body: { metadata: { annotations: { note: null } } } }, MERGE);
    expect(await env.leaks()).toEqual([]);
  });
});
