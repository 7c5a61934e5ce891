/**
 * API clients that reuse their connections. client-node 2.0's KubeConfig builds a new undici Agent for every
 * request, so every call paid a TLS handshake and left a socket behind: at 1,000 members that was the operator's
 * largest CPU cost and most of its memory. Here every client of one KubeConfig shares one Agent, rebuilt only when
 * the TLS material changes (a rotated client certificate or CA).
 */
import type { RequestOptions } from 'node:https';
import {
  ServerConfiguration, createConfiguration, type Configuration, type KubeConfig, type RequestContext, type SecurityAuthentication,
} from '@kubernetes/client-node';
import { Agent } from 'undici';
import { MANAGER } from '../api/schema.ts';

type Material = readonly unknown[];

const USER_AGENT = `${MANAGER}/0.1`;

class PooledAuthentication implements SecurityAuthentication {
  private agent: Agent | undefined;
  private material: Material = [];

  private readonly kc: KubeConfig;

  constructor(kc: KubeConfig) {
    this.kc = kc;
  }

  getName(): string {
    return 'kubeconfig authentication, pooled connections';
  }

  async applySecurityAuthentication(context: RequestContext): Promise<void> {
    // headers (token, basic auth) as client-node sets them; the Agent it attaches is replaced before it connects
    await this.kc.applySecurityAuthentication(context);
    // the API server names a write's field manager after the User-Agent (the part before "/"): "teamkeys" says
    // whose fields they are to a GitOps tool, where client-node's default would say "undici"
    context.setHeaderParam('User-Agent', USER_AGENT);
    const tls: RequestOptions = {};
    await this.kc.applyToHTTPSOptions(tls);
    const { ca, cert, key, pfx, passphrase, rejectUnauthorized, servername } = tls;
    const options = this.kc.createDispatcherOptions(this.kc.getCurrentCluster(), { ca, cert, key, pfx, passphrase, rejectUnauthorized, servername });
    if (options.type !== 'agent') return; // proxies and plain HTTP keep client-node's own dispatcher
    const material = [ca, cert, key, pfx, passphrase, rejectUnauthorized, servername];
    if (!this.agent || !sameMaterial(material, this.material)) {
      void this.agent?.close(); // requests in flight on the old one finish first
      this.agent = new Agent({ connect: options.connect });
      this.material = material;
    }
    context.setDispatcher(this.agent);
  }
}

function sameMaterial(a: Material, b: Material): boolean {
  return a.length === b.length && a.every((x, i) => {
    const y = b[i];
    return Buffer.isBuffer(x) && Buffer.isBuffer(y) ? x.equals(y) : x === y;
  });
}

const pools = new WeakMap<KubeConfig, PooledAuthentication>();

/** `kc.makeApiClient(api)`, with the connections of every client of `kc` pooled. */
export function apiClient<T>(kc: KubeConfig, api: new (config: Configuration) => T): T {
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new Error('the kubeconfig has no current cluster');
  let auth = pools.get(kc);
  if (!auth) {
    auth = new PooledAuthentication(kc);
    pools.set(kc, auth);
  }
  return new api(createConfiguration({ baseServer: new ServerConfiguration(server, {}), authMethods: { default: auth } }));
}
