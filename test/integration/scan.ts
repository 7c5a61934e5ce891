import { expect } from 'vitest';
import type { Env } from './env.ts';

/** Invariant 1: no key string in any operator log line, Event or status the suite produced. */
export async function expectNoKeyStrings(env: Env, namespaces: string[]): Promise<void> {
  const keyish = /sk-or-v1-[0-9a-f]{8,}/;
  expect(env.logs.length).toBeGreaterThan(0);
  for (const line of env.logs) expect(line).not.toMatch(keyish);
  for (const ns of [...namespaces, env.system]) {
    const events = await env.events(ns);
    for (const e of events) expect(JSON.stringify(e)).not.toMatch(keyish);
    const members = await env.custom.listNamespacedCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', namespace: ns, plural: 'teammembers' });
    expect(JSON.stringify(members)).not.toMatch(keyish);
  }
  const policies = await env.custom.listClusterCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', plural: 'keypolicies' });
  expect(JSON.stringify(policies)).not.toMatch(keyish);
}
