/**
 * The local cluster's PKI, made with openssl: one CA, the API server's serving certificate, a client certificate
 * and kubeconfig per component (the user name is the CN, groups are O), and the service-account key pair the API
 * server signs tokens with and the controller-manager's token controller shares.
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Client identities: kube-controller-manager and kube-scheduler get the users their bootstrap RBAC roles name. */
export const CLIENTS = {
  admin: '/O=system:masters/CN=admin',
  'kube-controller-manager': '/CN=system:kube-controller-manager',
  'kube-scheduler': '/CN=system:kube-scheduler',
  kwok: '/O=system:masters/CN=kwok',
} as const;
export type Client = keyof typeof CLIENTS;

async function openssl(dir: string, args: string[]): Promise<void> {
  await run('openssl', args, { cwd: dir });
}

export async function writeCerts(dir: string): Promise<void> {
  await writeFile(join(dir, 'ca.cnf'), '[req]\ndistinguished_name=dn\nprompt=no\n[dn]\nO=teamkeys-test\nCN=teamkeys-test-ca\n[v3_ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign,digitalSignature\nsubjectKeyIdentifier=hash\n');
  await writeFile(join(dir, 'serving.ext'), 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n');
  await writeFile(join(dir, 'client.ext'), 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n');
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-noenc'];
  await openssl(dir, ['req', '-x509', '-new', ...ec, '-config', 'ca.cnf', '-extensions', 'v3_ca', '-days', '30', '-keyout', 'ca.key', '-out', 'ca.crt']);
  const certs: [string, string, string][] = [['apiserver', '/O=teamkeys-test/CN=localhost', 'serving.ext'], ...Object.entries(CLIENTS).map(([n, s]): [string, string, string] => [n, s, 'client.ext'])];
  await Promise.all(certs.map(async ([name, subj, ext]) => {
    await openssl(dir, ['req', '-new', ...ec, '-subj', subj, '-keyout', `${name}.key`, '-out', `${name}.csr`]);
    // a serial per certificate: concurrent -CAcreateserial would race on one ca.srl file
    await openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', `0x${Buffer.from(name).toString('hex').slice(0, 30)}`, '-days', '30', '-extfile', ext, '-out', `${name}.crt`]);
  }));
  await openssl(dir, ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'sa.key']);
  await openssl(dir, ['pkey', '-in', 'sa.key', '-pubout', '-out', 'sa.pub']);
}

export async function readClient(dir: string, client: Client): Promise<{ ca: string; cert: string; key: string }> {
  const [ca, cert, key] = await Promise.all(['ca.crt', `${client}.crt`, `${client}.key`].map((f) => readFile(join(dir, f), 'utf8')));
  return { ca: ca ?? '', cert: cert ?? '', key: key ?? '' };
}

/** Writes `<client>.kubeconfig` (admin's is plain `kubeconfig`, the one users export) and returns its path. */
export async function writeKubeconfig(dir: string, server: string, client: Client): Promise<string> {
  const { ca, cert, key } = await readClient(dir, client);
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const text = [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: teamkeys-test',
    `  cluster: {server: "${server}", certificate-authority-data: ${b64(ca)}}`,
    'users:',
    `- name: ${client}`,
    `  user: {client-certificate-data: ${b64(cert)}, client-key-data: ${b64(key)}}`,
    'contexts:',
    '- name: teamkeys-test',
    `  context: {cluster: teamkeys-test, user: ${client}}`,
    'current-context: teamkeys-test',
    '',
  ].join('\n');
  const path = join(dir, client === 'admin' ? 'kubeconfig' : `${client}.kubeconfig`);
  await writeFile(path, text, { mode: 0o600 });
  return path;
}
