/**
 * Counting a peer's Kubernetes requests from the API server's side. kube-apiserver's apiserver_request_total has
 * no label for the client (no user, no user agent), so each peer runs as a user of its own (a client certificate
 * signed by the cluster's CA, bound to cluster-admin) and two FlowSchemas match that user only: one for writes,
 * one for everything else (reads, list and watch starts, discovery). The API server's priority-and-fairness filter
 * counts every request it lets through per FlowSchema (apiserver_flowcontrol_dispatched_requests_total). Both
 * schemas send the user to the `exempt` priority level, as system:masters (the bench client, the default kubeconfig)
 * is sent: no queueing, and the bench client's own requests stay under the `exempt` schema, out of the count.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import type { ControlPlane } from '../test/controlplane/controlplane.ts';
import { metricSum } from './measure.ts';
import type { Kubectl } from './setup.ts';

const run = promisify(execFile);
const WRITES = ['create', 'update', 'patch', 'delete', 'deletecollection'];

export interface PeerIdentity {
  user: string;
  kubeconfigPath: string;
}

/** A user of the peer's own, with a kubeconfig, cluster-admin rights and its two FlowSchemas. */
export async function peerIdentity(cp: ControlPlane, kubectl: Kubectl, user: string): Promise<PeerIdentity> {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-noenc'];
  // client.ext and the CA are the control plane's own (test/controlplane/certs.ts); no O=system:masters here
  await run('openssl', ['req', '-new', ...ec, '-subj', `/CN=${user}`, '-keyout', `${user}.key`, '-out', `${user}.csr`], { cwd: cp.dir });
  await run('openssl', ['x509', '-req', '-in', `${user}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', `0x${randomBytes(8).toString('hex')}`, '-days', '2', '-extfile', 'client.ext', '-out', `${user}.crt`], { cwd: cp.dir });
  const b64 = async (f: string) => (await readFile(join(cp.dir, f))).toString('base64');
  const kubeconfigPath = join(cp.dir, `${user}.kubeconfig`);
  await writeFile(kubeconfigPath, stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': user,
    clusters: [{ name: 'bench', cluster: { server: cp.server, 'certificate-authority-data': await b64('ca.crt') } }],
    users: [{ name: user, user: { 'client-certificate-data': await b64(`${user}.crt`), 'client-key-data': await b64(`${user}.key`) } }],
    contexts: [{ name: user, context: { cluster: 'bench', user } }],
  }), { mode: 0o600 });
  const subjects = [{ kind: 'User', user: { name: user } }];
  const schema = (suffix: string, matchingPrecedence: number, rule: Record<string, unknown>) => ({
    apiVersion: 'flowcontrol.apiserver.k8s.io/v1', kind: 'FlowSchema', metadata: { name: `${user}-${suffix}` },
    spec: { matchingPrecedence, priorityLevelConfiguration: { name: 'exempt' }, rules: [{ subjects, ...rule }] },
  });
  const all = { apiGroups: ['*'], resources: ['*'], clusterScope: true, namespaces: ['*'] };
  const manifests = [
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: user }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' }, subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }] },
    // precedence 2 and 3: below only `exempt` (1, which matches system:masters), above every bootstrap schema
    schema('writes', 2, { resourceRules: [{ verbs: WRITES, ...all }] }),
    schema('reads', 3, { resourceRules: [{ verbs: ['*'], ...all }], nonResourceRules: [{ verbs: ['*'], nonResourceURLs: ['*'] }] }),
  ];
  await kubectl(['apply', '-f', '-'], manifests.map((m) => stringify(m)).join('---\n'));
  return { user, kubeconfigPath };
}

export interface RequestCount {
  writes: number;
  reads: number;
}

/** The requests the API server has let through for this user so far (its /metrics, read as admin). */
export async function requestsOf(kubectl: Kubectl, user: string): Promise<RequestCount> {
  const { stdout } = await kubectl(['get', '--raw', '/metrics']);
  const of = (suffix: string) => metricSum(stdout, 'apiserver_flowcontrol_dispatched_requests_total', (l) => l.includes(`flow_schema="${user}-${suffix}"`));
  return { writes: of('writes'), reads: of('reads') };
}

export const minus = (a: RequestCount, b: RequestCount): RequestCount => ({ writes: a.writes - b.writes, reads: a.reads - b.reads });
