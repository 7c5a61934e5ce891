/**
 * `kubectl teamkeys doctor` as shipped (the compiled plugin, found by the real kubectl on PATH) against a running
 * operator: the management key read from its Secret, the operator id derived from the cluster as the operator
 * derives it (no --cluster-id), orphans judged from the TeamMembers that exist.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { keyName } from '../../src/controller/keyname.ts';
import { startEnv, type Env } from './env.ts';
import { aMember, aPolicy } from '../kit/objects.ts';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '../..');
const kubectl = join(inject('controlPlaneBinDir'), 'kubectl');

let env: Env;
let ns = '';
let policy = '';
let build = '';
let pluginPath = '';

beforeAll(async () => {
  env = await startEnv({ derivedId: true });
  ns = await env.newNamespace('doctor');
  policy = `doc-${ns}`;
  await env.apply(aPolicy(policy, { budget: { limitUSD: 5 }, models: { allow: ['openai/gpt-4o-mini'] } }));
  await env.apply(aMember(ns, 'alice', policy));
  await env.ready(ns, 'alice');
  await env.settled();

  // the plugin as shipped: compiled by the build, executable, found by kubectl on PATH under its plugin name
  await mkdir(join(ROOT, '.cache'), { recursive: true });
  build = await mkdtemp(join(ROOT, '.cache', 'doctor-'));
  await run(join(ROOT, 'node_modules/.bin/tsc'), ['-p', join(ROOT, 'tsconfig.build.json'), '--outDir', join(build, 'dist')]);
  await chmod(join(build, 'dist/cli/kubectl-teamkeys.js'), 0o755);
  await mkdir(join(build, 'bin'));
  await symlink(join(build, 'dist/cli/kubectl-teamkeys.js'), join(build, 'bin/kubectl-teamkeys'));
  pluginPath = [join(build, 'bin'), dirname(process.execPath), '/usr/bin', '/bin'].join(':');
}, 180_000);

afterAll(async () => {
  if (build) await rm(build, { recursive: true, force: true });
  await env?.stop();
});

/** `kubectl teamkeys doctor` for this env's operator: its namespace and selector, as its Deployment would set them. */
async function doctor(...args: string[]): Promise<{ code: number; out: string; rows: Map<string, { result: string; detail: string }> }> {
  const argv = ['teamkeys', 'doctor', '-n', env.system, '--namespace-selector', `teamkeys.dev/test-env=${env.clusterId}`, '--openrouter-url', `${env.emuUrl}/api/v1`, ...args];
  let code = 0;
  let out = '';
  let err = '';
  try {
    ({ stdout: out, stderr: err } = await run(kubectl, argv, { env: { ...process.env, PATH: pluginPath, KUBECONFIG: inject('kubeconfigPath') }, timeout: 30_000 }));
  } catch (e) {
    const f = e as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof f.code !== 'number') throw e;
    ({ code } = f);
    out = f.stdout ?? '';
    err = f.stderr ?? '';
  }
  for (const secret of [env.mk, ...env.issued.all]) expect(out + err).not.toContain(secret);
  const lines = out.split('\n');
  const rows = new Map(lines.slice(1, lines.indexOf('')).map((l) => {
    const [check = '', result = '', ...detail] = l.split(/ {3,}/);
    return [check, { result, detail: detail.join('   ') }] as const;
  }));
  return { code, out, rows };
}

describe('kubectl teamkeys doctor', () => {
  it("passes against a running operator, reading its Secret and deriving its id from the cluster", async () => {
    const writesBefore = Object.entries(env.emu.counters()).filter(([r]) => /^(POST|PATCH|DELETE) /.test(r) && !r.includes('/analytics/'));
    const r = await doctor();
    expect(r.code, r.out).toBe(0);
    expect([...r.rows].map(([check, x]) => [check, x.result])).toEqual([
      ['management key', 'ok'],
      ['key list', 'ok'],
      ['teamkeys keys', 'ok'],
      ['usage analytics', 'ok'],
      ['rate limits', 'ok'],
      ['guardrails', 'ok'],
    ]);
    expect(r.rows.get('management key')?.detail).toContain(`from Secret ${env.system}/teamkeys-management-key (key apiKey) is a management key`);
    // the id the operator derived for itself (kube-system UID and its namespace), found again by doctor
    expect(env.op.operatorId).toContain('.');
    expect(r.rows.get('teamkeys keys')?.detail).toContain(`1 key named teamkeys/${env.op.operatorId}/… (operator id from kube-system namespace UID`);
    expect(r.rows.get('teamkeys keys')?.detail).toContain('none orphaned');
    expect(r.rows.get('guardrails')?.detail).toBe(`1 guardrail named teamkeys/${env.op.operatorId}/…: ${policy} (1 key)`);
    expect(r.out).toContain('All checks passed.');
    // doctor wrote nothing: the write counters are as they were
    expect(Object.entries(env.emu.counters()).filter(([route]) => /^(POST|PATCH|DELETE) /.test(route) && !route.includes('/analytics/'))).toEqual(writesBefore);
  });

  it('counts a key of this operator that no TeamMember holds as orphaned: a warning, exit 0', async () => {
    env.emu.store.createKey({ name: keyName({ cluster: env.op.operatorId, namespace: ns, member: 'ghost', uid: randomUUID(), seq: 1 }) });
    const r = await doctor('--orphan-grace', '0s');
    expect(r.code, r.out).toBe(0);
    expect(r.rows.get('teamkeys keys')).toEqual({ result: 'warning', detail: expect.stringContaining(`2 keys named teamkeys/${env.op.operatorId}/…`) });
    expect(r.rows.get('teamkeys keys')?.detail).toContain(`1 look orphaned (no TeamMember holds them, older than 0s: ${ns}/ghost)`);
    // within the grace period the same key is not judged yet, as the operator's sweep would not
    const young = await doctor();
    expect(young.rows.get('teamkeys keys')?.detail).toContain('none orphaned');
  });
});
