/**
 * The two yardsticks a scale run is measured against, in the same run:
 * (a) the seed-style script teams write today: one member at a time, POST /keys then create the Secret;
 * (b) the ceiling: the API server's own throughput for the writes the operator makes per member, on the same
 *     kinds of objects (TeamMembers, whose CRD schema and CEL rules run on every write, and Secrets), from a tight
 *     client with 32 in flight: a finalizer patch, a Secret create and a status patch. The members it writes to
 *     live in a namespace the operator does not manage.
 */
import { PatchStrategy, setHeaderOptions, type CoreV1Api, type CustomObjectsApi } from '@kubernetes/client-node';
import { request } from 'undici';
import { GROUP, VERSION } from '../src/api/schema.ts';
import { aMember } from '../test/kit/objects.ts';

const MERGE = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export async function seedScript(core: CoreV1Api, emuUrl: string, managementKey: string, namespace: string, n: number): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < n; i++) {
    let body: { key?: string } = {};
    // a careful script: a 429 waits for its Retry-After and tries again
    for (;;) {
      const r = await request(`${emuUrl}/api/v1/keys`, {
        method: 'POST',
        headers: { authorization: `Bearer ${managementKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: `seed-${namespace}-${i}`, limit: 5 }),
      });
      body = (await r.body.json()) as { key?: string };
      if (r.statusCode === 429) {
        await new Promise((ok) => setTimeout(ok, Number(r.headers['retry-after'] ?? 1) * 1000));
        continue;
      }
      if (r.statusCode !== 201 || !body.key) throw new Error(`seed script: POST /keys answered ${r.statusCode}`);
      break;
    }
    await core.createNamespacedSecret({ namespace, body: { metadata: { name: `seed-${i}` }, stringData: { OPENROUTER_API_KEY: body.key ?? '' } } });
  }
  return performance.now() - started;
}

const JSON_PATCH = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);

/** The members (b) writes to are created first, untimed, as the operator's members were before it saw them. */
export async function ceiling(core: CoreV1Api, custom: CustomObjectsApi, namespace: string, policy: string, n: number, inFlight = 32): Promise<number> {
  const member = { group: GROUP, version: VERSION, namespace, plural: 'teammembers' };
  await inParallel(n, inFlight, (i) => custom.createNamespacedCustomObject({ ...member, body: aMember(namespace, `m${i}`, policy) }));
  const started = performance.now();
  await inParallel(n, inFlight, async (i) => {
    const name = `m${i}`;
    await custom.patchNamespacedCustomObject({ ...member, name, body: [{ op: 'add', path: '/metadata/finalizers', value: ['bench.teamkeys.dev/ceiling'] }] }, JSON_PATCH);
    const now = new Date().toISOString();
    const secret = { metadata: { name: `${name}-openrouter` }, stringData: { OPENROUTER_API_KEY: 'sk-or-v1-ceiling' } };
    await core.createNamespacedSecret({ namespace, body: secret });
    const key = { hash: `ceiling${i}`, name: `ceiling-${i}`, label: 'sk-or-v1-cei...ing', createdAt: now, disabled: false, limitUSD: 5, reset: 'monthly', includeByok: false };
    await custom.patchNamespacedCustomObjectStatus({ ...member, name, body: { status: { key, keySeq: 1, conditions: [{ type: 'Ready', status: 'True', reason: 'KeyReady', message: 'ceiling', lastTransitionTime: now }] } } }, MERGE);
  });
  const took = performance.now() - started;
  // let go of them (the namespace is deleted with the run)
  await inParallel(n, inFlight, (i) => custom.patchNamespacedCustomObject({ ...member, name: `m${i}`, body: [{ op: 'remove', path: '/metadata/finalizers' }] }, JSON_PATCH));
  return took;
}

/** Runs task(0..n-1) with at most `inFlight` at once. */
export async function inParallel(n: number, inFlight: number, task: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < n; i = next++) await task(i);
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, n) }, worker));
}
