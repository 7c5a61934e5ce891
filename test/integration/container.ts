/**
 * The container image, built from the Dockerfile (hack/image.sh --local) and run with podman the way
 * deploy/deployment.yaml runs it: its security context, args and environment are read from the manifest, the
 * ServiceAccount token is mounted where a kubelet mounts it, and the API server is reached as in-cluster.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '../..');
const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** podman as hack/podman.sh configures it (runc, cgroupfs, no default ulimits). */
export async function podman(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run('bash', ['-c', 'source hack/podman.sh && exec podman "$@"', 'podman', ...args], { cwd: ROOT, maxBuffer: 1 << 26 });
}

function podmanSpawn(args: string[]): ChildProcess {
  return spawn('bash', ['-c', 'source hack/podman.sh && exec podman "$@"', 'podman', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Builds the image from bases made on this machine; cached layers make a rebuild of unchanged sources quick. */
export async function buildImage(tag: string): Promise<string> {
  const { stdout } = await run('bash', [join(ROOT, 'hack/image.sh'), '--local', tag], { maxBuffer: 1 << 26 });
  return stdout.trim().split('\n').pop() ?? tag;
}

export interface EnvVar { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }
interface PodSpec {
  securityContext?: { runAsUser?: number; runAsGroup?: number; runAsNonRoot?: boolean };
  containers: {
    args?: string[];
    env?: EnvVar[];
    resources?: { limits?: { memory?: string } };
    securityContext?: { readOnlyRootFilesystem?: boolean; allowPrivilegeEscalation?: boolean; capabilities?: { drop?: string[] } };
  }[];
}

/** The podman flags that do what the Deployment's pod spec asks of a kubelet. */
export async function deploymentRunArgs(pod: { name: string; namespace: string }): Promise<{ flags: string[]; args: string[] }> {
  const d = parse(await readFile(join(ROOT, 'deploy/deployment.yaml'), 'utf8')) as { spec: { template: { spec: PodSpec } } };
  const spec = d.spec.template.spec;
  const c = spec.containers[0];
  if (!c) throw new Error('deploy/deployment.yaml has no container');
  const flags: string[] = [];
  const sc = spec.securityContext ?? {};
  if (sc.runAsUser !== undefined) flags.push('--user', `${sc.runAsUser}:${sc.runAsGroup ?? sc.runAsUser}`);
  if (c.securityContext?.readOnlyRootFilesystem) flags.push('--read-only', '--read-only-tmpfs=false');
  if (c.securityContext?.allowPrivilegeEscalation === false) flags.push('--security-opt', 'no-new-privileges');
  for (const cap of c.securityContext?.capabilities?.drop ?? []) flags.push('--cap-drop', cap);
  if (c.resources?.limits?.memory) flags.push('--memory', c.resources.limits.memory.replace(/i$/, '').toLowerCase());
  for (const [name, value] of Object.entries(podEnv(c.env ?? [], pod))) flags.push('--env', `${name}=${value}`);
  return { flags, args: c.args ?? [] };
}

/** A container's env as the kubelet fills it for the pod (values and the pod's own name and namespace). */
export function podEnv(env: EnvVar[], pod: { name: string; namespace: string }): Record<string, string> {
  const fields: Record<string, string> = { 'metadata.name': pod.name, 'metadata.namespace': pod.namespace };
  const out: Record<string, string> = {};
  for (const e of env) {
    const value = e.valueFrom?.fieldRef ? fields[e.valueFrom.fieldRef.fieldPath] : e.value;
    if (value === undefined) throw new Error(`cannot fill env ${e.name}`);
    out[e.name] = value;
  }
  return out;
}

export interface Container {
  name: string;
  logs: string[];
  exited: Promise<number | null>;
  /** podman stop: SIGTERM to the operator, SIGKILL after the timeout */
  stop(timeoutSeconds?: number): Promise<void>;
  remove(): Promise<void>;
}

export interface RunOptions {
  image: string;
  namespace: string;
  server: string;
  caPem: string;
  token: string;
  env: Record<string, string>;
}

/** Runs the image as the operator, in-cluster style, on the host network (the control plane is on loopback). */
export async function startContainer(o: RunOptions): Promise<Container> {
  const name = `teamkeys-operator-${Date.now().toString(36)}`;
  const sa = await mkdtemp(join(tmpdir(), 'teamkeys-sa-'));
  await chmod(sa, 0o755); // the kubelet's projected volume is readable by the pod's user
  await writeFile(join(sa, 'token'), o.token, { mode: 0o644 });
  await writeFile(join(sa, 'ca.crt'), o.caPem, { mode: 0o644 });
  await writeFile(join(sa, 'namespace'), o.namespace, { mode: 0o644 });
  const url = new URL(o.server);
  const { flags, args } = await deploymentRunArgs({ name, namespace: o.namespace });
  const env = { KUBERNETES_SERVICE_HOST: url.hostname, KUBERNETES_SERVICE_PORT: url.port, ...o.env };
  const child = podmanSpawn([
    'run', '--rm', '--name', name, '--network', 'host', '--volume', `${sa}:${SA_DIR}:ro`,
    ...flags, ...Object.entries(env).flatMap(([k, v]) => ['--env', `${k}=${v}`]), o.image, ...args,
  ]);
  const logs: string[] = [];
  child.stdout?.on('data', (b: Buffer) => logs.push(b.toString()));
  child.stderr?.on('data', (b: Buffer) => logs.push(b.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    name, logs, exited,
    stop: async (timeoutSeconds = 25) => {
      await podman(['stop', '--time', String(timeoutSeconds), name]).catch(() => undefined);
    },
    remove: async () => {
      await podman(['rm', '--force', '--ignore', name]).catch(() => undefined);
    },
  };
}
