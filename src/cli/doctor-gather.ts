/**
 * What `teamkeys doctor` reads, and only reads: the management key (from its Secret or an environment variable),
 * then from OpenRouter GET /key, GET /keys, GET /guardrails (and their key assignments) and one analytics query;
 * from the cluster, when there is a kubeconfig, the kube-system UID (the operator id) and who holds which key. Every
 * failure is kept as a fact for doctor.ts to judge, never thrown: one unreachable URL is one row, not a stack trace.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { operatorId } from '../controller/identity.ts';
import { clusterPrefix } from '../controller/keyname.ts';
import { guardrailPrefix } from '../controller/policy/rules.ts';
import type { Key } from '../domain/key.ts';
import { OpenRouterAnalytics } from '../openrouter/analytics.ts';
import { KEYS_PAGE_SIZE, OpenRouterClient } from '../openrouter/client.ts';
import { OpenRouterError } from '../openrouter/errors.ts';
import { OpenRouterGuardrails } from '../openrouter/guardrails.ts';
import { toKey } from '../openrouter/keys.ts';
import { RateLimiter } from '../openrouter/limiter.ts';
import { monotonicClock, systemClock } from '../util/clock.ts';
import { errorMessage } from '../util/errors.ts';
import type { DoctorSettings } from './doctor-settings.ts';
import type { Facts, Failure, Gathered, Got, Guardrail } from './doctor.ts';
import { TeamkeysApi, loadConfig } from './kube.ts';

const DAY_MS = 86_400_000;
/** Guardrails whose key assignments are counted (one paged call each); beyond that only their names are listed. */
const COUNTED_GUARDRAILS = 20;

function failure(e: unknown): Failure {
  return { ok: false, message: errorMessage(e), kind: e instanceof OpenRouterError ? e.kind : undefined };
}

/** Whether kubectl would find a kubeconfig (or run in a pod), judged from `env` so tests can leave the cluster out. */
function hasKubeconfig(s: DoctorSettings, env: NodeJS.ProcessEnv): boolean {
  const home = env['HOME'] ?? homedir();
  return Boolean(s.connection.kubeconfig || env['KUBECONFIG'] || existsSync(join(home, '.kube', 'config')) || env['KUBERNETES_SERVICE_HOST']);
}

/** The facts, and the key string itself, which the caller needs only to make sure it never prints it. */
export async function gather(s: DoctorSettings, env: NodeJS.ProcessEnv, now: number): Promise<{ facts: Facts; secret: string | undefined }> {
  const source = s.keyEnv ? `environment variable ${s.keyEnv}` : `Secret ${s.namespace}/${s.managementKeySecret} (key ${s.managementKeySecretKey})`;
  const url = s.openrouterUrl;
  let cluster: Got<{ api: TeamkeysApi }> | undefined;
  if (hasKubeconfig(s, env)) {
    try {
      cluster = { ok: true, api: new TeamkeysApi(loadConfig(s.connection)) };
    } catch (e) {
      cluster = failure(e);
    }
  }
  const secret = await managementKey(s, env, cluster);
  if (!secret.ok) return { facts: { url, source, key: secret, rest: undefined }, secret: undefined };

  const throttled = new Map<string, number>();
  const client = new OpenRouterClient({
    baseUrl: url,
    apiKey: () => secret.value,
    limiter: new RateLimiter(10, 10, monotonicClock),
    clock: systemClock,
    // one retry: a blip should not read as a problem, an unreachable URL should not take long to say so
    retries: 1,
    // read-only by construction: a write would be refused before it left (the analytics query is a read)
    mayWrite: () => false,
    observe: (route, status) => {
      if (status === 429) throttled.set(route, (throttled.get(route) ?? 0) + 1);
    },
  });
  try {
    let key: Facts['key'];
    try {
      const k = await client.currentKey();
      key = { ok: true, label: k.label, management: k.isManagementKey };
    } catch (e) {
      key = failure(e);
    }
    if (!key.ok || !key.management) return { facts: { url, source, key, rest: undefined }, secret: secret.value };

    const keys = await listKeys(client);
    const id = await identity(s, cluster);
    const owners = id?.ok && cluster ? (cluster.ok ? await attempt(async () => ({ byName: await cluster.api.memberOwners() })) : cluster) : undefined;
    // the hashes analytics falls back to when the whole-account answer is cut: this operator's, as the operator
    // itself does; without an id the first page's, so that a cut answer still shows (as more than one query)
    const ours = id?.ok ? keys.keys.filter((k) => k.name.startsWith(clusterPrefix(id.id))) : keys.keys.slice(0, KEYS_PAGE_SIZE);
    const analytics = await attempt(async () => {
      const answer = await new OpenRouterAnalytics(client, undefined, { retries: 1, waitMaxMs: 5_000 }).usageByKeyModelDay(new Date(now - DAY_MS), new Date(now), ours.map((k) => k.hash));
      return { answer, throttled: [...throttled].filter(([route]) => route.includes('/analytics/')).reduce((n, [, c]) => n + c, 0) };
    });
    const rates = { keys: client.rateHeaders.get('GET /keys'), analytics: client.rateHeaders.get('POST /analytics/query') ?? client.rateHeaders.get('GET /analytics/meta') };
    const guardrails = id?.ok ? await attempt(async () => ({ list: await ownGuardrails(new OpenRouterGuardrails(client), id.id) })) : undefined;
    const rest: Gathered = { keys, id, owners, analytics, rates, guardrails };
    return { facts: { url, source, key, rest }, secret: secret.value };
  } finally {
    await client.close();
  }
}

async function attempt<T extends object>(fn: () => Promise<T>): Promise<Got<T>> {
  try {
    return { ok: true, ...(await fn()) };
  } catch (e) {
    return failure(e);
  }
}

async function managementKey(s: DoctorSettings, env: NodeJS.ProcessEnv, cluster: Got<{ api: TeamkeysApi }> | undefined): Promise<Got<{ value: string }>> {
  if (s.keyEnv) {
    const value = env[s.keyEnv]?.trim();
    return value ? { ok: true, value } : { ok: false, message: 'the variable is not set, or empty' };
  }
  if (!cluster) return { ok: false, message: 'no kubeconfig to read it with: set KUBECONFIG or pass --kubeconfig, or give the key through --management-key-env NAME' };
  if (!cluster.ok) return cluster;
  const api = cluster.api;
  return attempt(async () => {
    const value = await api.secretValue(s.namespace, s.managementKeySecret, s.managementKeySecretKey);
    if (!value) throw new Error(`the Secret has no data key "${s.managementKeySecretKey}"`);
    return { value };
  });
}

/** Every page of GET /keys, as the operator walks them, stopping at the first failure. */
async function listKeys(client: OpenRouterClient): Promise<Gathered['keys']> {
  const keys: Key[] = [];
  let pages = 0;
  try {
    for (let offset = 0; ; offset += KEYS_PAGE_SIZE) {
      const page = await client.listKeysPage(offset);
      pages++;
      keys.push(...page.map(toKey));
      if (page.length < KEYS_PAGE_SIZE) return { keys, pages, failure: undefined };
    }
  } catch (e) {
    return { keys, pages, failure: failure(e) };
  }
}

/** --cluster-id, else derived as the operator derives it (controller/identity.ts); undefined without a cluster. */
async function identity(s: DoctorSettings, cluster: Got<{ api: TeamkeysApi }> | undefined): Promise<Gathered['id']> {
  if (s.clusterId) return { ok: true, ...operatorId(s, '') };
  if (!cluster) return undefined;
  if (!cluster.ok) return cluster;
  const api = cluster.api;
  return attempt(async () => operatorId(s, await api.namespaceUid('kube-system')));
}

async function ownGuardrails(port: OpenRouterGuardrails, id: string): Promise<Guardrail[]> {
  const prefix = guardrailPrefix(id);
  const found: { id: string; name: string }[] = [];
  for await (const g of port.list(undefined)) if (g.name.startsWith(prefix)) found.push(g);
  const counted = found.length <= COUNTED_GUARDRAILS;
  const out: Guardrail[] = [];
  for (const g of found) {
    let keys: number | undefined;
    if (counted) {
      const hashes: string[] = [];
      for await (const hash of port.assignedKeys(g.id)) hashes.push(hash);
      keys = hashes.length;
    }
    out.push({ name: g.name, keys });
  }
  return out;
}
