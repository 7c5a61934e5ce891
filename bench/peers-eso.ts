/**
 * External Secrets Operator as a peer: its controller (built by hack/eso.sh) as a local process with a kubeconfig,
 * without its webhook and cert-controller (separate subcommands; the root command is the controller alone), and
 * the objects a team would write to get one OpenRouter key per person from it: a Webhook generator that POSTs to
 * OpenRouter's `POST /api/v1/keys` with the management key (read from a Secret through the generator's `secrets`),
 * and one ExternalSecret per member whose target template keeps the answer's top-level `key`.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../test/controlplane/controlplane.ts';
import type { Kubectl } from './setup.ts';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..');

export const ESO_GROUP = 'external-secrets.io';
export const ESO_VERSION = 'v1';
const GENERATORS = 'generators.external-secrets.io/v1alpha1';

/** Builds ESO when the cache misses (slow the first time), installs its CRDs, returns the binary's path. */
export async function installEso(kubectl: Kubectl): Promise<string> {
  const { stdout } = await run('bash', [join(ROOT, 'hack/eso.sh')], { maxBuffer: 1 << 24 });
  const bin = stdout.trim().split('\n').pop() ?? '';
  // server-side: the bundle's CRDs are too large for client-side apply's last-applied annotation
  await kubectl(['apply', '--server-side', '-f', join(dirname(bin), 'crds.yaml')]);
  await kubectl(['wait', '--for=condition=Established', 'crd', '--all', '--timeout=60s']);
  return bin;
}

export interface EsoProcess {
  child: ChildProcess;
  metrics(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * ESO's controller with its defaults but `flags` (e.g. --concurrent=16); leader election off, metrics on a free local
 * port. It reads KUBECONFIG (the root command has no --kubeconfig flag).
 */
export async function startEso(bin: string, kubeconfigPath: string, flags: readonly string[]): Promise<EsoProcess> {
  const port = await freePort();
  const child = spawn(bin, [...flags, '--enable-leader-election=false', `--metrics-addr=127.0.0.1:${port}`, '--loglevel=error'], {
    env: { ...process.env, KUBECONFIG: kubeconfigPath }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  const logs: string[] = [];
  child.stderr?.on('data', (b: Buffer) => {
    logs.push(b.toString());
    if (logs.length > 200) logs.shift();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const metrics = async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  while (!(await metrics().then(() => true, () => false))) {
    if (child.exitCode !== null) throw new Error(`ESO exited: ${logs.join('').slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    child, metrics,
    stop: async () => {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** The management key's Secret and the Webhook generator of one namespace; keys are named `<namespace>-<uuid>`. */
export function esoNamespaceObjects(namespace: string, openrouterUrl: string, managementKey: string): Record<string, unknown>[] {
  return [
    // the label is what ESO's webhook provider asks of the Secrets it reads
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'openrouter-management', namespace, labels: { 'external-secrets.io/type': 'webhook' } }, stringData: { apiKey: managementKey } },
    {
      apiVersion: GENERATORS, kind: 'Webhook', metadata: { name: 'openrouter-key', namespace },
      spec: {
        method: 'POST', url: `${openrouterUrl}/api/v1/keys`,
        headers: { Authorization: 'Bearer {{ .auth.apiKey }}', 'Content-Type': 'application/json' },
        // the template sees only `secrets` (no ExternalSecret name for a generator): a uuid makes each name unique
        body: `{"name":"${namespace}-{{ uuidv4 }}","limit":5}`,
        result: { jsonPath: '$' },
        secrets: [{ name: 'auth', secretRef: { name: 'openrouter-management', key: 'apiKey' } }],
      },
    },
  ];
}

/** One member's ExternalSecret: generated once (refreshInterval 0: never again), its Secret `<name>-openrouter`. */
export function anExternalSecret(namespace: string, name: string): Record<string, unknown> {
  return {
    apiVersion: `${ESO_GROUP}/${ESO_VERSION}`, kind: 'ExternalSecret', metadata: { name, namespace },
    spec: {
      refreshInterval: '0s',
      target: { name: `${name}-openrouter`, template: { engineVersion: 'v2', data: { OPENROUTER_API_KEY: '{{ .key }}' } } },
      dataFrom: [{ sourceRef: { generatorRef: { apiVersion: GENERATORS, kind: 'Webhook', name: 'openrouter-key' } } }],
    },
  };
}
