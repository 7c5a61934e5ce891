/**
 * A real Kubernetes control plane for tests and the demo: etcd + kube-apiserver on loopback with generated
 * certificates and an admin kubeconfig (the envtest recipe). No scheduler, no controller-manager, no kubelet.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Agent, request } from 'undici';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');

export interface ControlPlane {
  dir: string;
  server: string;
  kubeconfigPath: string;
  binDir: string;
  etcdPid: number;
  apiserverPid: number;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** where the data, certificates, logs and kubeconfig go; a fresh temp dir by default */
  dir?: string;
  /** keep the processes running after this Node process exits (make cluster-up) */
  detached?: boolean;
  readyTimeoutMs?: number;
  attempts?: number;
}

/** Builds the binaries when the cache misses (see hack/controlplane-bins.sh) and returns their directory. */
export async function controlPlaneBins(): Promise<string> {
  const { stdout } = await run('bash', [join(ROOT, 'hack/controlplane-bins.sh')], { maxBuffer: 1 << 24 });
  return stdout.trim().split('\n').pop() ?? '';
}

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => (addr && typeof addr === 'object' ? res(addr.port) : rej(new Error('no port'))));
    });
  });
}

async function openssl(dir: string, args: string[]): Promise<void> {
  await run('openssl', args, { cwd: dir });
}

/** CA, serving certificate for 127.0.0.1/localhost, an admin client certificate (system:masters), SA keys. */
async function writeCerts(dir: string): Promise<void> {
  await writeFile(join(dir, 'ca.cnf'), '[req]\ndistinguished_name=dn\nprompt=no\n[dn]\nO=teamkeys-test\nCN=teamkeys-test-ca\n[v3_ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign,digitalSignature\nsubjectKeyIdentifier=hash\n');
  await writeFile(join(dir, 'serving.ext'), 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n');
  await writeFile(join(dir, 'client.ext'), 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n');
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-noenc'];
  await openssl(dir, ['req', '-x509', '-new', ...ec, '-config', 'ca.cnf', '-extensions', 'v3_ca', '-days', '30', '-keyout', 'ca.key', '-out', 'ca.crt']);
  for (const [name, subj, ext] of [['apiserver', '/O=teamkeys-test/CN=localhost', 'serving.ext'], ['admin', '/O=system:masters/CN=admin', 'client.ext']] as const) {
    await openssl(dir, ['req', '-new', ...ec, '-subj', subj, '-keyout', `${name}.key`, '-out', `${name}.csr`]);
    await openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '30', '-extfile', ext, '-out', `${name}.crt`]);
  }
  await openssl(dir, ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'sa.key']);
  await openssl(dir, ['pkey', '-in', 'sa.key', '-pubout', '-out', 'sa.pub']);
}

async function launch(bin: string, args: string[], log: string, detached: boolean): Promise<ChildProcess> {
  const fh = await open(log, 'a');
  const child = spawn(bin, args, { stdio: ['ignore', fh.fd, fh.fd], detached });
  await fh.close();
  if (detached) child.unref();
  return child;
}

async function waitFor(what: string, timeoutMs: number, child: ChildProcess, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what} exited early (${child.exitCode ?? child.signalCode})`);
    if (await probe().catch(() => false)) return;
    await sleep(150);
  }
  throw new Error(`${what} not ready after ${timeoutMs} ms`);
}

async function stopProcess(pid: number, timeoutMs = 20_000): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await sleep(100);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

function kubeconfig(server: string, ca: string, cert: string, key: string): string {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- name: teamkeys-test`,
    `  cluster: {server: "${server}", certificate-authority-data: ${b64(ca)}}`,
    'users:',
    `- name: admin`,
    `  user: {client-certificate-data: ${b64(cert)}, client-key-data: ${b64(key)}}`,
    'contexts:',
    '- name: teamkeys-test',
    '  context: {cluster: teamkeys-test, user: admin}',
    'current-context: teamkeys-test',
    '',
  ].join('\n');
}

async function startOnce(binDir: string, dir: string, opts: StartOptions): Promise<ControlPlane> {
  const detached = opts.detached ?? false;
  const timeout = opts.readyTimeoutMs ?? 120_000;
  const [clientPort, peerPort, securePort] = [await freePort(), await freePort(), await freePort()];
  const etcdUrl = `http://127.0.0.1:${clientPort}`;
  const etcd = await launch(join(binDir, 'etcd'), [
    '--name=default', `--data-dir=${join(dir, 'etcd')}`,
    `--listen-client-urls=${etcdUrl}`, `--advertise-client-urls=${etcdUrl}`,
    `--listen-peer-urls=http://127.0.0.1:${peerPort}`, `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
    `--initial-cluster=default=http://127.0.0.1:${peerPort}`, '--unsafe-no-fsync=true', '--log-level=warn',
  ], join(dir, 'etcd.log'), detached);
  const kill = async () => {
    if (etcd.pid) await stopProcess(etcd.pid);
  };
  try {
    await waitFor('etcd', timeout, etcd, async () => (await request(`${etcdUrl}/health`)).statusCode === 200);
    await writeCerts(dir);
    const server = `https://127.0.0.1:${securePort}`;
    const api = await launch(join(binDir, 'kube-apiserver'), [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1', '--advertise-address=127.0.0.1', `--secure-port=${securePort}`,
      `--cert-dir=${dir}`, `--tls-cert-file=${join(dir, 'apiserver.crt')}`, `--tls-private-key-file=${join(dir, 'apiserver.key')}`,
      `--client-ca-file=${join(dir, 'ca.crt')}`, '--authorization-mode=RBAC',
      `--service-account-issuer=${server}/`, `--service-account-key-file=${join(dir, 'sa.pub')}`,
      `--service-account-signing-key-file=${join(dir, 'sa.key')}`, '--service-cluster-ip-range=10.0.0.0/24',
      '--disable-admission-plugins=ServiceAccount', '--allow-privileged=true', '--v=0',
    ], join(dir, 'apiserver.log'), detached);
    const [ca, cert, key] = await Promise.all(['ca.crt', 'admin.crt', 'admin.key'].map((f) => readFile(join(dir, f), 'utf8')));
    const agent = new Agent({ connect: { ca, cert, key } });
    try {
      const get = async (path: string) => {
        const r = await request(`${server}${path}`, { dispatcher: agent });
        await r.body.dump();
        return r.statusCode === 200;
      };
      await waitFor('kube-apiserver', timeout, api, () => get('/readyz'));
      await waitFor('namespace default', timeout, api, () => get('/api/v1/namespaces/default'));
    } catch (e) {
      if (api.pid) await stopProcess(api.pid);
      throw e;
    } finally {
      await agent.close();
    }
    const kubeconfigPath = join(dir, 'kubeconfig');
    await writeFile(kubeconfigPath, kubeconfig(server, ca ?? '', cert ?? '', key ?? ''), { mode: 0o600 });
    const pids = { etcd: etcd.pid ?? 0, apiserver: api.pid ?? 0 };
    await writeFile(join(dir, 'pids.json'), JSON.stringify(pids));
    return {
      dir, server, kubeconfigPath, binDir, etcdPid: pids.etcd, apiserverPid: pids.apiserver,
      stop: async () => {
        await stopProcess(pids.apiserver);
        await stopProcess(pids.etcd);
      },
    };
  } catch (e) {
    await kill();
    throw e;
  }
}

/** Starts etcd and kube-apiserver; retries the whole start (fresh ports) when a port race or slow start bites. */
export async function startControlPlane(opts: StartOptions = {}): Promise<ControlPlane> {
  const binDir = await controlPlaneBins();
  const attempts = opts.attempts ?? 3;
  let last: unknown;
  for (let i = 1; i <= attempts; i++) {
    const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'teamkeys-cp-')));
    await rm(join(dir, 'etcd'), { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    try {
      return await startOnce(binDir, dir, opts);
    } catch (e) {
      last = e;
      process.stderr.write(`control plane start attempt ${i}/${attempts} failed: ${String(e)} (logs in ${dir})\n`);
    }
  }
  throw last instanceof Error ? last : new Error(String(last));
}

/** Stops a detached control plane started earlier in `dir` (make cluster-down). */
export async function stopControlPlaneIn(dir: string): Promise<boolean> {
  let pids: { etcd: number; apiserver: number };
  try {
    pids = JSON.parse(await readFile(join(dir, 'pids.json'), 'utf8')) as { etcd: number; apiserver: number };
  } catch {
    return false;
  }
  await stopProcess(pids.apiserver);
  await stopProcess(pids.etcd);
  await rm(join(dir, 'pids.json'), { force: true });
  return true;
}
