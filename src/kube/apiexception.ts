/**
 * client-node's ApiException mapped to a KubeError, for the code that still calls the API server through
 * client-node's generated clients (the CLI, the benchmarks): its message includes headers and its body is raw text.
 */
import { ApiException } from '@kubernetes/client-node';
import { kubeError } from './errors.ts';

/** Runs a client-node call and rethrows its failure as a KubeError. */
export async function kube<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    if (!(e instanceof ApiException)) throw e;
    throw kubeError(typeof e.code === 'number' ? e.code : 0, e.body);
  }
}
