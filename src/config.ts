import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { DEFAULT_RESTART_BOUNDS } from './controller/restartline.ts';
import { DURATION, parseDuration } from './util/duration.ts';

/** Operator configuration: flags win over environment variables; everything is checked here, once. */
export const Config = z.object({
  kubeconfig: z.string().optional(),
  namespace: z.string().min(1).default('teamkeys-system'),
  /**
   * this operator's id, part of every key and guardrail name; omitted: derived (controller/identity.ts) from the
   * kube-system namespace's UID, plus this operator's namespace under --namespace-selector (one id per shard)
   */
  clusterId: z.string().regex(/^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$/, 'cluster id must be a lowercase DNS label of at most 40 characters').optional(),
  managementKeySecret: z.string().min(1).default('teamkeys-management-key'),
  managementKeySecretKey: z.string().min(1).default('apiKey'),
  hmacSecret: z.string().min(1).default('teamkeys-hmac-key'),
  openrouterUrl: z.url().default('https://openrouter.ai/api/v1'),
  secretBaseUrl: z.url().optional(),
  workers: z.coerce.number().int().min(1).max(64).default(16),
  rateLimitPerSecond: z.coerce.number().positive().max(1000).default(100),
  rateLimitBurst: z.coerce.number().int().min(1).max(1000).default(20),
  /** usage analytics queries a minute, for this operator: OpenRouter allows 64 for the whole account (unless it raised yours) */
  analyticsPerMinute: z.coerce.number().positive().max(100_000).default(32),
  orphanGrace: z.string().regex(DURATION).default('10m'),
  minSyncInterval: z.string().regex(DURATION).default('30s'),
  credentialsInterval: z.string().regex(DURATION).default('15s'),
  /** scheduled rotations in flight at once, cluster-wide (on-demand ones are not held back) */
  maxConcurrentRotations: z.coerce.number().int().min(1).max(10_000).default(10),
  /** watch opted-in Deployments, StatefulSets and DaemonSets and restart them when their key changes */
  restartWorkloads: z.enum(['true', 'false']).default('true').transform((v) => v === 'true'),
  /** workload restarts in any minute in one namespace; more wait their turn (controller/restartline.ts) */
  namespaceRestartsPerMinute: z.coerce.number().int().min(1).max(10_000).default(DEFAULT_RESTART_BOUNDS.perNamespace),
  /** workload restarts in any minute across every namespace this operator manages */
  restartsPerMinute: z.coerce.number().int().min(1).max(10_000).default(DEFAULT_RESTART_BOUNDS.fleet),
  /** manage only TeamMembers in namespaces with these labels ("k=v,k2=v2"); omitted: every namespace */
  namespaceSelector: z
    .string()
    .regex(/^[A-Za-z0-9./_-]+=[A-Za-z0-9._-]*(,[A-Za-z0-9./_-]+=[A-Za-z0-9._-]*)*$/, 'namespace selector must look like key=value,key2=value2')
    .transform((s) => Object.fromEntries(s.split(',').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])))
    .optional(),
  leaderElect: z.enum(['true', 'false']).default('true').transform((v) => v === 'true'),
  leaseName: z.string().min(1).default('teamkeys-operator'),
  /** how long a leader's lease lasts without renewal; it must renew within 2/3 of it and retries every 2/15 */
  leaseDuration: z.string().regex(DURATION).refine((d) => parseDuration(d) >= 2_000, 'lease duration must be at least 2s').default('15s'),
  metricsPort: z.coerce.number().int().min(0).max(65535).default(8080),
  metricsHost: z.string().min(1).default('0.0.0.0'),
  /** one series per member (spend, limit, expiry, forecast...); off for very large fleets: per-policy and per-model aggregates stay */
  memberMetrics: z.enum(['true', 'false']).default('true').transform((v) => v === 'true'),
  shutdownTimeout: z.string().regex(DURATION).default('20s'),
  instance: z.string().min(1).default(process.env['POD_NAME'] ?? hostname()),
  logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error']).default('info'),
});
export type Config = z.infer<typeof Config>;

export const FLAGS = {
  kubeconfig: 'KUBECONFIG',
  namespace: 'POD_NAMESPACE',
  'cluster-id': 'TEAMKEYS_CLUSTER_ID',
  'management-key-secret': 'TEAMKEYS_MANAGEMENT_KEY_SECRET',
  'management-key-secret-key': 'TEAMKEYS_MANAGEMENT_KEY_SECRET_KEY',
  'hmac-secret': 'TEAMKEYS_HMAC_SECRET',
  'openrouter-url': 'TEAMKEYS_OPENROUTER_URL',
  'secret-base-url': 'TEAMKEYS_SECRET_BASE_URL',
  workers: 'TEAMKEYS_WORKERS',
  'rate-limit-per-second': 'TEAMKEYS_RATE_LIMIT_PER_SECOND',
  'rate-limit-burst': 'TEAMKEYS_RATE_LIMIT_BURST',
  'analytics-per-minute': 'TEAMKEYS_ANALYTICS_PER_MINUTE',
  'orphan-grace': 'TEAMKEYS_ORPHAN_GRACE',
  'min-sync-interval': 'TEAMKEYS_MIN_SYNC_INTERVAL',
  'credentials-interval': 'TEAMKEYS_CREDENTIALS_INTERVAL',
  'max-concurrent-rotations': 'TEAMKEYS_MAX_CONCURRENT_ROTATIONS',
  'restart-workloads': 'TEAMKEYS_RESTART_WORKLOADS',
  'namespace-restarts-per-minute': 'TEAMKEYS_NAMESPACE_RESTARTS_PER_MINUTE',
  'restarts-per-minute': 'TEAMKEYS_RESTARTS_PER_MINUTE',
  'namespace-selector': 'TEAMKEYS_NAMESPACE_SELECTOR',
  'leader-elect': 'TEAMKEYS_LEADER_ELECT',
  'lease-name': 'TEAMKEYS_LEASE_NAME',
  'lease-duration': 'TEAMKEYS_LEASE_DURATION',
  'metrics-port': 'TEAMKEYS_METRICS_PORT',
  'metrics-host': 'TEAMKEYS_METRICS_HOST',
  'member-metrics': 'TEAMKEYS_MEMBER_METRICS',
  'shutdown-timeout': 'TEAMKEYS_SHUTDOWN_TIMEOUT',
  instance: 'POD_NAME',
  'log-level': 'LOG_LEVEL',
} as const;

const camel = (s: string) => s.replace(/-(\w)/g, (_m, c: string) => c.toUpperCase());

export function loadConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): Config {
  const options = Object.fromEntries(Object.keys(FLAGS).map((f) => [f, { type: 'string' as const }]));
  const { values } = parseArgs({ args: argv, options, strict: true });
  const raw: Record<string, string | undefined> = {};
  for (const [flag, envName] of Object.entries(FLAGS)) {
    const v = values[flag];
    raw[camel(flag)] = typeof v === 'string' ? v : env[envName];
  }
  const r = Config.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new Error(`invalid configuration: ${i?.path.join('.') ?? ''}: ${i?.message ?? ''}`);
  }
  return r.data;
}
