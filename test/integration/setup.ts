/** One real control plane (etcd + kube-apiserver) per test run, with the CRDs installed; tests isolate by namespace. */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';
import { startControlPlane } from '../controlplane/controlplane.ts';

const run = promisify(execFile);

declare module 'vitest' {
  export interface ProvidedContext {
    kubeconfigPath: string;
    controlPlaneBinDir: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  const cp = await startControlPlane();
  process.stderr.write(`control plane ready in ${Date.now() - started} ms (${cp.server})\n`);
  const kubectl = join(cp.binDir, 'kubectl');
  const crds = join(import.meta.dirname, '../../crds');
  await run(kubectl, ['--kubeconfig', cp.kubeconfigPath, 'apply', '-k', crds]);
  await run(kubectl, ['--kubeconfig', cp.kubeconfigPath, 'wait', '--for=condition=Established', 'crd', '--all', '--timeout=60s']);
  project.provide('kubeconfigPath', cp.kubeconfigPath);
  project.provide('controlPlaneBinDir', cp.binDir);
  return () => cp.stop();
}
