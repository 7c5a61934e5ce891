/**
 * Version skew: a CRD newer than the operator admits a member this operator cannot read. Offboarding must not
 * wait on the parser (invariant 8): `suspended: true` and deletion are honoured from the fields that can be read,
 * and nothing is re-created or re-enabled on a guess. Its own small cluster (etcd + kube-apiserver), because the
 * shared one must keep the real CRDs.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { startControlPlane, type ControlPlane } from '../controlplane/controlplane.ts';
import { MERGE, eventually } from './kube.ts';
import { startEnv, type Env } from './env.ts';
import { expectNoKeyStrings } from './scan.ts';
import { aMember, aPolicy } from '../kit/objects.ts';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '../..');
let cp: ControlPlane;
let env: Env;
let ns = '';

type Props = Record<string, { maxLength?: number; maximum?: number; properties?: Props }>;
interface Crd { spec: { versions: { schema: { openAPIV3Schema: { properties: { spec: { properties: Props }; status: { properties: Props } } } } }[] } }

beforeAll(async () => {
  cp = await startControlPlane({ apiOnly: true });
  const kubectl = (args: string[], input?: string) => {
    const p = run(join(cp.binDir, 'kubectl'), ['--kubeconfig', cp.kubeconfigPath, ...args]);
    if (input !== undefined) p.child.stdin?.end(input);
    return p;
  };
  // the newer CRD raised the member limit's maximum past what this operator reads
  const members = parse(await readFile(join(ROOT, 'crds/teamkeys.dev_teammembers.yaml'), 'utf8')) as Crd;
  for (const v of members.spec.versions) {
    delete v.schema.openAPIV3Schema.properties.spec.properties['limitUSD']?.['maximum'];
    // and a stricter status than this operator knows: a rotation request longer than 8 characters cannot be recorded
    const lastRequest = v.schema.openAPIV3Schema.properties.status.properties['rotation']?.properties?.['lastRequest'];
    if (lastRequest) lastRequest.maxLength = 8;
  }
  await kubectl(['apply', '-f', join(ROOT, 'crds/teamkeys.dev_keypolicies.yaml')]);
  await kubectl(['apply', '-f', '-'], stringify(members));
  await kubectl(['wait', '--for=condition=Established', 'crd', '--all', '--timeout=60s']);
  env = await startEnv({ cluster: { kubeconfigPath: cp.kubeconfigPath, binDir: cp.binDir } });
  ns = await env.newNamespace('skew');
  await env.apply(aPolicy('skew', { budget: { limitUSD: 5 } }));
}, 180_000);
afterAll(async () => {
  await env?.stop();
  await cp?.stop();
});

const patchSpec = (name: string, spec: Record<string, unknown>) =>
  env.custom.patchNamespacedCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', namespace: ns, plural: 'teammembers', name, body: { spec } }, MERGE);
const emuKey = (hash: string) => env.emu.store.state.keys.find((k) => k.hash === hash);
const ready = async (name: string) => (await env.member(ns, name)).status?.conditions?.find((c) => c.type === 'Ready');

it('suspends and deletes a member whose spec this operator cannot read, and never re-enables its key on a guess', async () => {
  await env.apply(aMember(ns, 'sam', 'skew'));
  const hash = (await env.ready(ns, 'sam')).status?.key?.hash ?? '';
  await patchSpec('sam', { limitUSD: 2_000_000 });
  await eventually(async () => (await ready('sam'))?.reason === 'InvalidSpec' || undefined, 15_000, 'Ready=False InvalidSpec');
  expect(await ready('sam')).toMatchObject({ status: 'False', message: expect.stringMatching(/spec\.limitUSD/) });
  // a parse failure is not an outage: the key stays as it was
  expect(emuKey(hash)?.disabled).toBe(false);

  await patchSpec('sam', { suspended: true });
  await eventually(() => emuKey(hash)?.disabled || undefined, 15_000, 'key disabled by suspended: true');
  expect((await env.member(ns, 'sam')).status?.key?.disabled).toBe(true);
  expect((await env.events(ns)).map((e) => e.reason)).toContain('KeyDisabled');

  await patchSpec('sam', { suspended: false });
  await env.settled();
  expect(emuKey(hash)?.disabled).toBe(true); // the rest of the spec still cannot be read: no guess

  await env.kubectl(['delete', 'tm', 'sam', '-n', ns, '--timeout=30s']);
  expect(emuKey(hash)).toBeUndefined();
  await expect(env.core.readNamespacedSecret({ namespace: ns, name: 'sam-openrouter' })).rejects.toMatchObject({ code: 404 });
  expect(Object.values(env.emu.counters()['POST /api/v1/keys'] ?? {}).reduce((a, b) => a + b, 0)).toBe(1);
});

it('reads a member again once its spec is readable, and resumes it', async () => {
  await env.apply(aMember(ns, 'ria', 'skew'));
  const hash = (await env.ready(ns, 'ria')).status?.key?.hash ?? '';
  await patchSpec('ria', { limitUSD: 2_000_000, suspended: true });
  await eventually(() => emuKey(hash)?.disabled || undefined, 15_000, 'key disabled');
  await patchSpec('ria', { limitUSD: 4, suspended: false });
  await env.ready(ns, 'ria', 15_000);
  expect(emuKey(hash)).toMatchObject({ disabled: false, limit: 4 });
  expect((await env.member(ns, 'ria')).status?.key?.hash).toBe(hash);
});

it('says Ready=False StatusRejected instead of a stale Ready=True when the API server refuses a status it computed', async () => {
  await env.apply(aMember(ns, 'rex', 'skew'));
  await env.ready(ns, 'rex');
  await env.kubectl(['annotate', 'tm', 'rex', '-n', ns, 'teamkeys.dev/rotate=a-request-too-long-to-record']);
  const rejected = await eventually(async () => {
    const c = (await env.member(ns, 'rex')).status?.conditions?.find((x) => x.type === 'Ready');
    return c?.reason === 'StatusRejected' ? c : undefined;
  }, 15_000, 'Ready=False StatusRejected');
  expect(rejected).toMatchObject({ status: 'False', message: expect.stringMatching(/lastRequest/) });
  expect((await env.events(ns)).map((e) => e.reason)).toContain('StatusRejected');
});

it('leaks no key string into logs, Events or statuses', async () => {
  await expectNoKeyStrings(env, [ns]);
});
