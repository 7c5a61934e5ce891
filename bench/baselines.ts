/**
 * The two yardsticks a scale run is measured against, in the same run:
 * (a) the seed-style script teams write today: one member at a time, POST /keys then create the Secret;
 * (b) the ceiling: the API server's own throughput for the same number of writes per member (a Secret created
 *     and patched three times: four writes, as the operator makes), from a tight client with 32 in flight.
 */
import { PatchStrategy, setHeaderOptions, type CoreV1Api } from '@kubernetes/client-node';
import { request } from 'undici';

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

export async function ceiling(core: CoreV1Api, namespace: string, n: number, inFlight = 32): Promise<number> {
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < n; i = next++) {
      const name = `ceiling-${i}`;
      await core.createNamespacedSecret({ namespace, body: { metadata: { name }, stringData: { v: '0' } } });
      for (let p = 1; p <= 3; p++) await core.patchNamespacedSecret({ namespace, name, body: { metadata: { annotations: { step: String(p) } } } }, MERGE);
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, n) }, worker));
  return performance.now() - started;
}
