/**
 * Invariant 1, hunted for: every key string the emulator issued in a run (it tells the test each one), looked for
 * wherever it must never be — log lines, Events, statuses, Secret metadata, metric samples, the emulator's state
 * as persisted. Not just the `sk-or-v1-` prefix: the key's body, either half of it, and the whole key in base64
 * (as a Secret's data holds it) each count as a leak.
 */
import { EventsV1Api, type CoreV1Api, type CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { expect } from 'vitest';

const PREFIX = 'sk-or-v1-';

/** The key strings one emulator issued, collected through its onIssued option. */
export class IssuedKeys {
  readonly all: string[] = [];
  readonly collect = (secret: string): void => {
    this.all.push(secret);
  };
}

export interface Haystack {
  where: string;
  text: string;
}

/**
 * Where any issued key, or half of its body, occurs: "where: which part (key …last4)". Never the key itself.
 * Linear in the text: hex runs are matched against the halves' first 16 characters, base64 against the encoded
 * prefix (9 bytes, so the encoding of a whole key always starts with the same 12 characters).
 */
export function keyLeaks(secrets: readonly string[], hay: readonly Haystack[]): string[] {
  const halves = new Map<string, { half: string; which: string; key: string }[]>();
  const encoded = new Map<string, string>();
  for (const key of secrets) {
    const body = key.slice(PREFIX.length);
    const mid = Math.floor(body.length / 2);
    for (const [half, which] of [[body.slice(0, mid), 'first half'], [body.slice(mid), 'second half']] as const) {
      const head = half.slice(0, 16);
      halves.set(head, [...(halves.get(head) ?? []), { half, which, key }]);
    }
    encoded.set(Buffer.from(key).toString('base64'), key);
  }
  const b64Prefix = Buffer.from(PREFIX).toString('base64');
  const b64Length = Buffer.from(secrets[0] ?? '').toString('base64').length;
  const hits = new Set<string>();
  const hit = (where: string, part: string, key: string) => hits.add(`${where}: ${part} of key …${key.slice(-4)}`);
  for (const h of hay) {
    for (const m of h.text.matchAll(/[0-9a-f]{16,}/g)) {
      const run = m[0];
      for (let i = 0; i + 16 <= run.length; i++) {
        for (const c of halves.get(run.slice(i, i + 16)) ?? []) if (run.startsWith(c.half, i)) hit(h.where, `the ${c.which}`, c.key);
      }
    }
    for (let i = h.text.indexOf(b64Prefix); i >= 0; i = h.text.indexOf(b64Prefix, i + 1)) {
      const key = encoded.get(h.text.slice(i, i + b64Length));
      if (key) hit(h.where, 'the base64', key);
    }
  }
  return [...hits];
}

/** The cluster side of one operator's world: Events, members, Secret metadata in these namespaces; every policy. */
export async function clusterHaystack(kc: KubeConfig, core: CoreV1Api, custom: CustomObjectsApi, namespaces: readonly string[]): Promise<Haystack[]> {
  const events = kc.makeApiClient(EventsV1Api);
  const hay: Haystack[] = [];
  for (const namespace of namespaces) {
    hay.push({ where: `Events in ${namespace}`, text: JSON.stringify((await events.listNamespacedEvent({ namespace })).items) });
    hay.push({ where: `TeamMembers in ${namespace}`, text: JSON.stringify(await custom.listNamespacedCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', namespace, plural: 'teammembers' })) });
    // a member's Secret holds its key in data, and only there
    hay.push({ where: `Secret metadata in ${namespace}`, text: JSON.stringify((await core.listNamespacedSecret({ namespace })).items.map((s) => s.metadata)) });
  }
  hay.push({ where: 'KeyPolicies', text: JSON.stringify(await custom.listClusterCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', plural: 'keypolicies' })) });
  return hay;
}

/** Fails with every place a key was found. */
export function expectNoLeaks(secrets: readonly string[], hay: readonly Haystack[]): void {
  expect(keyLeaks(secrets, hay)).toEqual([]);
}

/** For tests on an Env: its operator's log, metrics, emulator state and cluster side (its own namespaces and these). */
export async function expectNoKeyStrings(env: { leaks(namespaces?: readonly string[]): Promise<string[]> }, namespaces: readonly string[] = []): Promise<void> {
  expect(await env.leaks(namespaces)).toEqual([]);
}
