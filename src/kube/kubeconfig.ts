/**
 * The operator's kubeconfig, loaded without client-node (whose KubeConfig module alone costs about 80 MB of RSS):
 * in a pod the ServiceAccount's token and CA; else a kubeconfig file (the path given, else $KUBECONFIG, else
 * ~/.kube/config), its current context's cluster and user. Several files (a $KUBECONFIG list) and a user that
 * authenticates with something other than a token or a client certificate (an exec plugin, an auth provider, a
 * password) are handed to client-node's loader, which merges and knows them all, at that cost.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import { isIPv6 } from 'node:net';
import { parse } from 'yaml';
import type { ClusterData, KubeConfigLike, UserData } from './access.ts';

const SA = '/var/run/secrets/kubernetes.io/serviceaccount';

interface Named<T> { name?: string; cluster?: T; user?: T; context?: T }
interface RawFile {
  'current-context'?: string;
  clusters?: Named<Record<string, unknown>>[];
  users?: Named<Record<string, unknown>>[];
  contexts?: Named<{ cluster?: string; user?: string }>[];
}

/** A kubeconfig read as data. */
class LeanKubeConfig implements KubeConfigLike {
  private readonly cluster: ClusterData;
  private readonly user: UserData;
  constructor(cluster: ClusterData, user: UserData) {
    this.cluster = cluster;
    this.user = user;
  }

  getCurrentCluster(): ClusterData {
    return this.cluster;
  }

  getCurrentUser(): UserData {
    return this.user;
  }
}

export async function loadKube(path?: string): Promise<KubeConfigLike> {
  const home = join(homedir(), '.kube', 'config');
  const files = (path || process.env['KUBECONFIG'] || '').split(delimiter).filter(Boolean);
  if (files.length === 0 && existsSync(home)) files.push(home);
  const [first] = files;
  if (first === undefined) return inCluster();
  const lean = files.length === 1 ? fromFile(first) : undefined;
  if (lean) return lean;
  // credentials only client-node handles, or files to merge: its loader, loaded only then
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  kc.loadFromFile(first);
  for (const f of files.slice(1)) {
    const more = new KubeConfig();
    more.loadFromFile(f);
    kc.mergeConfig(more, true);
  }
  return kc;
}

function inCluster(): KubeConfigLike {
  const host = process.env['KUBERNETES_SERVICE_HOST'];
  const port = process.env['KUBERNETES_SERVICE_PORT'];
  if (!host || !port) throw new Error('no kubeconfig: neither --kubeconfig, $KUBECONFIG, ~/.kube/config nor a pod\'s ServiceAccount');
  const scheme = port === '80' || port === '8080' || port === '8001' ? 'http' : 'https';
  return new LeanKubeConfig(
    { server: `${scheme}://${isIPv6(host) ? `[${host}]` : host}:${port}`, caFile: `${SA}/ca.crt`, skipTLSVerify: false },
    { authProvider: { name: 'tokenFile', config: { tokenFile: `${SA}/token` } } },
  );
}

/** The file's current context as data; undefined when its user needs client-node's loader. */
function fromFile(file: string): KubeConfigLike | undefined {
  const raw = (parse(readFileSync(file, 'utf8')) ?? {}) as RawFile;
  const ctxName = raw['current-context'];
  const ctx = raw.contexts?.find((c) => c.name === ctxName)?.context;
  if (!ctx) throw new Error(`kubeconfig ${file}: no current context`);
  const c = raw.clusters?.find((x) => x.name === ctx.cluster)?.cluster;
  if (!c || typeof c['server'] !== 'string') throw new Error(`kubeconfig ${file}: context ${ctxName ?? ''} names no cluster with a server`);
  const u = raw.users?.find((x) => x.name === ctx.user)?.user ?? {};
  if (u['exec'] !== undefined || u['auth-provider'] !== undefined || u['username'] !== undefined) return undefined;
  const str = (o: Record<string, unknown>, k: string) => (typeof o[k] === 'string' ? o[k] : undefined);
  // relative file paths are relative to the kubeconfig, as kubectl reads them
  const at = (p: string | undefined) => (p === undefined || isAbsolute(p) ? p : join(dirname(file), p));
  const tokenFile = at(str(u, 'tokenFile') ?? str(u, 'token-file'));
  return new LeanKubeConfig(
    { server: c['server'], caData: str(c, 'certificate-authority-data'), caFile: at(str(c, 'certificate-authority')), skipTLSVerify: c['insecure-skip-tls-verify'] === true, tlsServerName: str(c, 'tls-server-name') },
    {
      certData: str(u, 'client-certificate-data'), certFile: at(str(u, 'client-certificate')),
      keyData: str(u, 'client-key-data'), keyFile: at(str(u, 'client-key')),
      token: str(u, 'token'),
      ...(tokenFile ? { authProvider: { name: 'tokenFile', config: { tokenFile } } } : {}),
    },
  );
}
