/** The member Secrets port (domain/secret.ts) over the API server and the operator's Secret informer. */
import type { V1Secret } from '@kubernetes/client-node';
import { SecretRejected } from '../domain/errors.ts';
import type { SecretObject, SecretStore } from '../domain/secret.ts';
import type { Cluster } from './cluster.ts';
import { KubeError, isKube } from './errors.ts';

export class KubeSecrets implements SecretStore {
  private readonly cluster: Cluster;
  private readonly cache: (namespace: string, name: string) => V1Secret | undefined;

  constructor(cluster: Cluster, cache: (namespace: string, name: string) => V1Secret | undefined) {
    this.cluster = cluster;
    this.cache = cache;
  }

  cached(namespace: string, name: string): SecretObject | undefined {
    const s = this.cache(namespace, name);
    return s && fromKube(s, namespace, name);
  }

  async read(namespace: string, name: string): Promise<SecretObject | undefined> {
    try {
      return fromKube(await this.cluster.readSecret(namespace, name), namespace, name);
    } catch (e) {
      if (isKube(e, 'notFound')) return undefined;
      throw e;
    }
  }

  async write(secret: SecretObject, replace: boolean, dryRun = false): Promise<SecretObject> {
    const body = toKube(secret);
    try {
      const out = replace
        ? await this.cluster.replaceSecret(secret.namespace, secret.name, body, dryRun)
        : await this.cluster.createSecret(secret.namespace, body, dryRun);
      return fromKube(out, secret.namespace, secret.name);
    } catch (e) {
      // refused for what it is (invalid, over quota, immutable, a policy webhook), not for a stale read
      if (e instanceof KubeError && (e.kind === 'invalid' || e.kind === 'forbidden')) throw new SecretRejected(e.message);
      throw e;
    }
  }

  async delete(namespace: string, name: string, uid: string): Promise<void> {
    try {
      await this.cluster.deleteSecret(namespace, name, uid);
    } catch (e) {
      if (!isKube(e, 'notFound')) throw e;
    }
  }
}

function fromKube(s: V1Secret, namespace: string, name: string): SecretObject {
  const m = s.metadata;
  return {
    namespace: m?.namespace ?? namespace,
    name: m?.name ?? name,
    uid: m?.uid,
    resourceVersion: m?.resourceVersion,
    labels: { ...m?.labels },
    annotations: { ...m?.annotations },
    ownerReferences: (m?.ownerReferences ?? []).map((r) => ({ apiVersion: r.apiVersion, kind: r.kind, name: r.name, uid: r.uid, controller: r.controller, blockOwnerDeletion: r.blockOwnerDeletion })),
    data: Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')])),
  };
}

function toKube(s: SecretObject): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: {
      name: s.name,
      namespace: s.namespace,
      labels: s.labels,
      annotations: s.annotations,
      ...(s.resourceVersion ? { resourceVersion: s.resourceVersion } : {}),
      ownerReferences: s.ownerReferences,
    },
    data: Object.fromEntries(Object.entries(s.data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  };
}
