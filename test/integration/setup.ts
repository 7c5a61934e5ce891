/** One real control plane (etcd + kube-apiserver) per test run; tests isolate themselves by namespace. */
import type { TestProject } from 'vitest/node';
import { startControlPlane } from '../controlplane/controlplane.ts';

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
  project.provide('kubeconfigPath', cp.kubeconfigPath);
  project.provide('controlPlaneBinDir', cp.binDir);
  return () => cp.stop();
}
