/**
 * The CLI's only link to the cluster: the kubeconfig as kubectl would pick it, TeamMember and KeyPolicy reads, the
 * rotate annotation, and what `doctor` reads (the management-key Secret, the kube-system UID, who owns which key).
 * Every failure becomes a CliError that says what was refused and what to do.
 */
import { apiClient } from '../kube/pool.ts';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, CustomObjectsApi, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { offboardee, ownerOf, parseMember } from '../api/objects.ts';
import { GROUP, VERSION, type TeamMember } from '../api/schema.ts';
import type { OwnerView } from '../controller/sweep.ts';
import { KubeError } from '../kube/errors.ts';
import { kube } from '../kube/apiexception.ts';

/** A failure to show the user as it is: exit code 2 for usage mistakes, 1 for everything else. */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

export interface Connection {
  kubeconfig?: string | undefined;
  context?: string | undefined;
  /** impersonate this user, as kubectl --as */
  as?: string | undefined;
}

const MERGE = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const MEMBERS = `teammembers.${GROUP}`;
const NO_CRDS = `the cluster has no ${MEMBERS}/${VERSION} API: teamkeys' CRDs are not installed (kubectl apply -k crds/ from the teamkeys repository, or the whole deploy/)`;

/** Loads the kubeconfig the way kubectl does (--kubeconfig, then KUBECONFIG, then ~/.kube/config, then in-cluster). */
export function loadConfig(c: Connection): KubeConfig {
  const kc = new KubeConfig();
  const home = join(homedir(), '.kube', 'config');
  try {
    if (c.kubeconfig) {
      if (!existsSync(c.kubeconfig)) throw new CliError(`kubeconfig ${c.kubeconfig} does not exist`);
      kc.loadFromFile(c.kubeconfig);
    } else if (process.env['KUBECONFIG'] || existsSync(home)) {
      kc.loadFromDefault();
    } else if (process.env['KUBERNETES_SERVICE_HOST']) {
      kc.loadFromCluster();
    } else {
      throw new CliError(`no kubeconfig: set KUBECONFIG, pass --kubeconfig, or create ${home}`);
    }
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`cannot read the kubeconfig: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (c.context) {
    if (!kc.getContextObject(c.context)) throw new CliError(`context "${c.context}" is not in the kubeconfig (it has: ${kc.getContexts().map((x) => x.name).join(', ') || 'none'})`);
    kc.setCurrentContext(c.context);
  }
  const ctx = kc.getContextObject(kc.getCurrentContext());
  if (!ctx || !kc.getCurrentCluster()) throw new CliError('the kubeconfig has no current context with a cluster: pass --context');
  if (c.as) {
    const as = c.as;
    kc.users = kc.users.map((u) => (u.name === ctx.user ? { ...u, impersonateUser: as } : u));
  }
  return kc;
}

/** The namespace of the kubeconfig's current context, else "default", as kubectl. */
export function contextNamespace(kc: KubeConfig): string {
  return kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
}

export interface Unreadable {
  namespace: string;
  name: string;
  message: string;
}

export class TeamkeysApi {
  private readonly custom: CustomObjectsApi;
  private readonly core: CoreV1Api;
  private readonly server: string;

  constructor(kc: KubeConfig) {
    // the operator's own client: pooled connections, and writes under the field manager "teamkeys"
    this.custom = apiClient(kc, CustomObjectsApi);
    this.core = apiClient(kc, CoreV1Api);
    this.server = kc.getCurrentCluster()?.server ?? '?';
  }

  /** Members of one namespace, or of all (namespace undefined); those whose object does not parse are set apart. */
  async listMembers(namespace: string | undefined): Promise<{ members: TeamMember[]; unreadable: Unreadable[] }> {
    const where = namespace ? `in namespace "${namespace}"` : 'across all namespaces (-A)';
    const list = await this.call(`list ${MEMBERS} ${where}`, () =>
      namespace
        ? this.custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: 'teammembers' })
        : this.custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: 'teammembers' }),
    );
    const members: TeamMember[] = [];
    const unreadable: Unreadable[] = [];
    for (const item of itemsOf(list)) {
      const p = parseMember(item);
      if (p?.ok) members.push(p.value);
      else if (p) unreadable.push({ namespace: p.raw.metadata.namespace ?? '', name: p.raw.metadata.name, message: p.message });
    }
    return { members, unreadable };
  }

  async getMember(namespace: string, name: string): Promise<TeamMember> {
    const raw = await this.call(`get ${MEMBERS} "${name}" in namespace "${namespace}"`, () =>
      this.custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: 'teammembers', name }), name);
    const p = parseMember(raw);
    if (!p?.ok) throw new CliError(`TeamMember ${namespace}/${name} cannot be read: ${p?.message ?? 'not a TeamMember'}`);
    return p.value;
  }

  /** Whether the KeyPolicy exists; undefined when this user may not read KeyPolicies (the report does not need them). */
  async policyExists(name: string): Promise<boolean | undefined> {
    try {
      await kube(() => this.custom.getClusterCustomObject({ group: GROUP, version: VERSION, plural: 'keypolicies', name }));
      return true;
    } catch (e) {
      if (e instanceof KubeError && e.kind === 'notFound') return false;
      if (e instanceof KubeError && e.kind === 'forbidden') return undefined;
      throw this.explain(`get keypolicies.${GROUP} "${name}"`, e);
    }
  }

  /** Merge-patches one annotation of a member; returns the member as stored. */
  async annotateMember(namespace: string, name: string, key: string, value: string): Promise<TeamMember> {
    const raw = await this.call(`patch ${MEMBERS} "${name}" in namespace "${namespace}"`, () =>
      this.custom.patchNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: 'teammembers', name, body: { metadata: { annotations: { [key]: value } } } }, MERGE), name);
    const p = parseMember(raw);
    if (!p?.ok) throw new CliError(`TeamMember ${namespace}/${name} was annotated but cannot be read back: ${p?.message ?? 'not a TeamMember'}`);
    return p.value;
  }

  /** One data key of a Secret, decoded and trimmed as the operator reads its management key; undefined when absent. */
  async secretValue(namespace: string, name: string, key: string): Promise<string | undefined> {
    const s = await this.read(`get secret "${name}" in namespace "${namespace}"`, () => this.core.readNamespacedSecret({ namespace, name }), {
      missing: `Secret ${namespace}/${name} not found: create it in the operator's namespace (-n), or name another with --management-key-secret`,
      forbidden: 'Only the operator and cluster admins may read the management key: run this as a cluster admin, or pass --management-key-env.',
    });
    const raw = s.data?.[key];
    return raw === undefined ? undefined : Buffer.from(raw, 'base64').toString('utf8').trim() || undefined;
  }

  async namespaceUid(name: string): Promise<string> {
    const ns = await this.read(`get namespace "${name}"`, () => this.core.readNamespace({ name }), {
      missing: `namespace ${name} not found`,
      forbidden: 'Pass --cluster-id instead.',
    });
    if (!ns.metadata?.uid) throw new CliError(`namespace ${name} has no uid`);
    return ns.metadata.uid;
  }

  /** Every TeamMember's hold on its keys, by "namespace/name", read as leniently as the orphan sweep reads them. */
  async memberOwners(): Promise<Map<string, OwnerView>> {
    const list = await this.call(`list ${MEMBERS} across all namespaces`, () => this.custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: 'teammembers' }));
    const owners = new Map<string, OwnerView>();
    for (const item of itemsOf(list)) {
      const meta = offboardee(item)?.metadata;
      const o = ownerOf(item);
      if (meta && o) owners.set(`${meta.namespace ?? ''}/${meta.name}`, o);
    }
    return owners;
  }

  /** A core read whose refusals need their own advice (the teamkeys roles do not grant Secrets or namespaces). */
  private async read<T>(what: string, fn: () => Promise<T>, advice: { missing: string; forbidden: string }): Promise<T> {
    try {
      return await kube(fn);
    } catch (e) {
      if (e instanceof KubeError && e.kind === 'notFound') throw new CliError(advice.missing);
      if (e instanceof KubeError && e.kind === 'forbidden') throw new CliError(`forbidden: you may not ${what}. The API server says: ${e.message}. ${advice.forbidden}`);
      throw this.explain(what, e);
    }
  }

  private async call<T>(what: string, fn: () => Promise<T>, name?: string): Promise<T> {
    try {
      return await kube(fn);
    } catch (e) {
      throw this.explain(what, e, name);
    }
  }

  private explain(what: string, e: unknown, name?: string): CliError {
    if (!(e instanceof KubeError)) {
      const cause = e instanceof Error && e.cause instanceof Error ? e.cause : e;
      const code = cause && typeof cause === 'object' && 'code' in cause ? String(cause.code) : undefined;
      return new CliError(`cannot reach the API server at ${this.server}: ${code ?? (cause instanceof Error ? cause.message : String(cause))}`);
    }
    if (e.kind === 'forbidden') {
      const role = what.startsWith('patch') ? 'teamkeys-edit (or the built-in edit)' : 'teamkeys-view (or the built-in view)';
      return new CliError(`forbidden: you may not ${what}. The API server says: ${e.message}. A cluster admin can grant the ${role} role there.`);
    }
    if (e.kind === 'notFound') {
      // a named object that is missing says so in the Status message; a missing resource type does not
      return new CliError(name && e.message.includes(`"${name}" not found`) ? `TeamMember "${name}" not found (${what})` : NO_CRDS);
    }
    if (e.status === 401) return new CliError(`unauthorized: the API server at ${this.server} did not accept the kubeconfig's credentials (${e.message})`);
    return new CliError(`cannot ${what}: HTTP ${e.status}: ${e.message}`);
  }
}

function itemsOf(list: unknown): unknown[] {
  if (list && typeof list === 'object' && 'items' in list && Array.isArray(list.items)) return list.items as unknown[];
  return [];
}
