/**
 * How the operator reaches the API server: its URL, one pooled undici Agent carrying the kubeconfig's TLS material,
 * and the credentials each request carries. Built from any kubeconfig with client-node's shape (its KubeConfig, in
 * tests and the CLI, or kube/kubeconfig.ts's lean one in the operator): the cluster and user are read as data.
 * A bearer token, a token file (re-read each minute: projected ServiceAccount tokens rotate) and client
 * certificates are handled here; any other credential (exec plugins, auth providers) is asked of the kubeconfig
 * itself per request (client-node's applyToHTTPSOptions, which runs the plugin and caches its token).
 */
import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { Agent } from 'undici';

/** The fields of client-node's Cluster the operator reads. */
export interface ClusterData {
  server: string;
  caData?: string | undefined;
  caFile?: string | undefined;
  skipTLSVerify?: boolean | undefined;
  tlsServerName?: string | undefined;
}

/** The fields of client-node's User the operator reads. */
export interface UserData {
  certData?: string | undefined;
  certFile?: string | undefined;
  keyData?: string | undefined;
  keyFile?: string | undefined;
  token?: string | undefined;
  /** client-node's in-cluster user: { name: 'tokenFile', config: { tokenFile } } */
  authProvider?: { name?: string; config?: Record<string, string> } | undefined;
  exec?: unknown;
  username?: string | undefined;
}

/** A kubeconfig as the operator reads it: client-node's KubeConfig has this shape. */
export interface KubeConfigLike {
  getCurrentCluster(): ClusterData | null;
  getCurrentUser(): UserData | null;
  /** client-node only: sets the headers of credentials the operator does not handle itself (exec, auth providers) */
  applyToHTTPSOptions?(opts: { headers?: Record<string, unknown> }): Promise<void>;
}

const TOKEN_FILE_REREAD_MS = 60_000;

/** The User-Agent names a write's field manager (the part before "/"): "teamkeys" says whose fields they are. */
export const USER_AGENT = 'teamkeys/0.1';

export class KubeAccess {
  readonly server: string;
  readonly agent: Agent;
  private readonly kc: KubeConfigLike;
  private readonly user: UserData;
  private tokenFileValue: { token: string; at: number } | undefined;

  constructor(kc: KubeConfigLike) {
    const cluster = kc.getCurrentCluster();
    if (!cluster?.server) throw new Error('the kubeconfig has no current cluster');
    this.kc = kc;
    this.server = cluster.server.replace(/\/+$/, '');
    this.user = kc.getCurrentUser() ?? {};
    const material = (data: string | undefined, file: string | undefined) => (data ? Buffer.from(data, 'base64') : file ? readFileSync(file) : undefined);
    // HTTP/1.1, one connection per request in flight (and per watch): undici's HTTP/2 path (node:http2) cost 11-16%
    // more of the operator's CPU in a burst (3,000 members: 24.4 against 20.6 s; bench-memory: 35.0 against 31.1 s)
    this.agent = new Agent({
      allowH2: false,
      connect: {
        ca: material(cluster.caData, cluster.caFile),
        cert: material(this.user.certData, this.user.certFile),
        key: material(this.user.keyData, this.user.keyFile),
        rejectUnauthorized: cluster.skipTLSVerify !== true,
        ...(cluster.tlsServerName ? { servername: cluster.tlsServerName } : {}),
      },
    });
  }

  /** The headers that authenticate a request (none with client certificates alone). */
  async headers(): Promise<Record<string, string>> {
    const token = await this.token();
    if (token) return { authorization: `Bearer ${token}` };
    const u = this.user;
    if ((u.exec || u.authProvider || u.username) && this.kc.applyToHTTPSOptions) {
      const opts: { headers: Record<string, unknown> } = { headers: {} };
      await this.kc.applyToHTTPSOptions(opts);
      const auth = opts.headers['Authorization'] ?? opts.headers['authorization'];
      if (typeof auth === 'string') return { authorization: auth };
    }
    return {};
  }

  private async token(): Promise<string | undefined> {
    if (this.user.token) return this.user.token;
    const file = this.user.authProvider?.name === 'tokenFile' ? this.user.authProvider.config?.['tokenFile'] : undefined;
    if (!file) return undefined;
    const now = Date.now();
    if (!this.tokenFileValue || now - this.tokenFileValue.at > TOKEN_FILE_REREAD_MS) {
      this.tokenFileValue = { token: (await readFile(file, 'utf8')).trim(), at: now };
    }
    return this.tokenFileValue.token;
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}
