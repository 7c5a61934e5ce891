import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEnv, type Env } from './env.ts';

let env: Env;
beforeAll(async () => {
  env = await startEnv();
});
afterAll(() => env.stop());

describe('apply YAML -> Secret with a working key -> status', () => {
  it('provisions a key for a member and reports limit and usage', async () => {
    const ns = await env.newNamespace('team-a');
    await env.apply(`
apiVersion: teamkeys.dev/v1alpha1
kind: KeyPolicy
metadata: {name: basic-${ns}}
spec:
  budget: {limitUSD: 5, reset: monthly}
  secretTemplate:
    attribution: {title: "app:{{member}}"}
---
apiVersion: teamkeys.dev/v1alpha1
kind: TeamMember
metadata: {name: alice, namespace: ${ns}}
spec: {policy: basic-${ns}, displayName: Alice}
`);
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
});
