/** `make cluster-up` / `make cluster-down`: the whole local cluster for humans, kept under .cache/cluster. */
import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { startControlPlane, stopControlPlaneIn } from './controlplane.ts';

const dir = resolve(process.env['TEAMKEYS_CLUSTER_DIR'] ?? join(import.meta.dirname, '../../.cache/cluster'));
const cmd = process.argv[2];

if (cmd === 'up') {
  await stopControlPlaneIn(dir);
  await rm(dir, { recursive: true, force: true });
  const started = Date.now();
  const cp = await startControlPlane({ dir, detached: true });
  process.stdout.write(
    `cluster ready in ${((Date.now() - started) / 1000).toFixed(1)}s at ${cp.server}: etcd, kube-apiserver, ` +
      `kube-controller-manager, kube-scheduler, kwok with ${cp.nodes.length} fake nodes (${cp.nodes.join(', ')}); logs in ${cp.dir}\n` +
      `  export KUBECONFIG=${cp.kubeconfigPath}\n` +
      `  export PATH=${cp.binDir}:$PATH   # kubectl of the same release\n` +
      `try: kubectl get nodes; kubectl create deployment web --image=nginx --replicas=3; kubectl rollout status deploy/web\n` +
      `stop it with: make cluster-down\n`,
  );
} else if (cmd === 'down') {
  const stopped = await stopControlPlaneIn(dir);
  process.stdout.write(stopped ? `control plane in ${dir} stopped\n` : `no control plane running in ${dir}\n`);
} else {
  process.stderr.write('usage: cli.ts up|down\n');
  process.exit(2);
}
