/** kubectl for tests, and acting as a deployed ServiceAccount the way its pod would (a token the kubelet projects). */
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { KubeConfig } from '@kubernetes/client-node';
import { inject } from 'vitest';

const run = promisify(execFile);

/** kubectl as the test's admin (or another kubeconfig); a refusal is an answer, not a throw. */
export async function kubectl(args: string[], kubeconfig = inject('kubeconfigPath'), stdin?: string): Promise<{ ok: boolean; out: string }> {
  try {
    const p = run(join(inject('controlPlaneBinDir'), 'kubectl'), ['--kubeconfig', kubeconfig, ...args], { maxBuffer: 1 << 26 });
    p.child.stdin?.end(stdin ?? '');
    const r = await p;
    return { ok: true, out: r.stdout + r.stderr };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    return { ok: false, out: (err.stdout ?? '') + (err.stderr ?? '') };
  }
}

/** A token of the ServiceAccount, as the kubelet would project it into a pod. */
export async function serviceAccountToken(namespace: string, name: string): Promise<string> {
  return (await kubectl(['create', 'token', name, '-n', namespace, '--duration=1h'])).out.trim();
}

/** A kubeconfig for the test cluster that authenticates with a token of the ServiceAccount; returns its path. */
export async function serviceAccountKubeconfig(kc: KubeConfig, namespace: string, name: string): Promise<string> {
  const token = await serviceAccountToken(namespace, name);
  const cluster = kc.getCurrentCluster();
  const path = join(await mkdtemp(join(tmpdir(), 'teamkeys-sa-')), 'kubeconfig');
  await writeFile(path, [
    'apiVersion: v1', 'kind: Config',
    `clusters: [{name: c, cluster: {server: "${cluster?.server ?? ''}", certificate-authority-data: ${Buffer.from(cluster?.caData ?? '', 'base64').toString('base64')}}}]`,
    `users: [{name: ${name}, user: {token: "${token}"}}]`,
    'contexts: [{name: c, context: {cluster: c, user: ' + name + '}}]', 'current-context: c', '',
  ].join('\n'), { mode: 0o600 });
  return path;
}
