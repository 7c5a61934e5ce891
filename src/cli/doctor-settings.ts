/**
 * The flags of `teamkeys doctor` and what they resolve to. The ones it shares with the operator have the operator's
 * names, environment variables and defaults (src/config.ts) and are checked by the same schema, so doctor run with
 * the operator's settings (in its pod, say) looks at exactly what the operator uses.
 */
import type { Command } from 'commander';
import type { z } from 'zod';
import { Config, FLAGS } from '../config.ts';
import { CliError, type Connection } from './kube.ts';

export interface DoctorFlags {
  namespace?: string;
  kubeconfig?: string;
  context?: string;
  as?: string;
  managementKeySecret?: string;
  managementKeySecretKey?: string;
  managementKeyEnv?: string;
  openrouterUrl?: string;
  clusterId?: string;
  namespaceSelector?: string;
  leaseName?: string;
  orphanGrace?: string;
}

const Shared = Config.pick({
  namespace: true,
  clusterId: true,
  managementKeySecret: true,
  managementKeySecretKey: true,
  openrouterUrl: true,
  orphanGrace: true,
  namespaceSelector: true,
  leaseName: true,
});
type Shared = z.infer<typeof Shared>;

export interface DoctorSettings extends Shared {
  /** read the management key from this environment variable instead of the Secret */
  keyEnv: string | undefined;
  connection: Connection;
}

const DEFAULTS = Shared.parse({});
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function doctorOptions(cmd: Command): Command {
  return cmd
    .description("Read-only checks of the OpenRouter account teamkeys uses: the management key, the key list, this operator's keys and guardrails, usage analytics, rate limits. Exits 1 when a check finds a problem")
    .option('-n, --namespace <namespace>', `the operator's namespace, where its management-key Secret is (default: ${DEFAULTS.namespace})`)
    .option('--kubeconfig <path>', 'the kubeconfig (default: KUBECONFIG, then ~/.kube/config)')
    .option('--context <name>', 'the kubeconfig context to use')
    .option('--as <user>', 'impersonate this user or ServiceAccount (system:serviceaccount:NS:NAME)')
    .option('--management-key-secret <name>', `the Secret holding the management key (default: ${DEFAULTS.managementKeySecret})`)
    .option('--management-key-secret-key <key>', `its data key (default: ${DEFAULTS.managementKeySecretKey})`)
    .option('--management-key-env <NAME>', 'read the management key from the environment variable NAME instead of the Secret, on a machine without the cluster. There is no flag for the key itself: a command line lands in shell history and in ps')
    .option('--openrouter-url <url>', `OpenRouter's management API (default: ${DEFAULTS.openrouterUrl})`)
    .option('--cluster-id <id>', "the operator id whose keys and guardrails to count (default: derived from the cluster, as the operator derives it)")
    .option('--namespace-selector <k=v,...>', "the operator's --namespace-selector, when it has one: a sharded operator's id is derived with it")
    .option('--lease-name <name>', `the operator's --lease-name, when it is not ${DEFAULTS.leaseName}: likewise`)
    .option('--orphan-grace <duration>', `how old a key no TeamMember holds must be to count as orphaned, as the operator's flag (default: ${DEFAULTS.orphanGrace})`)
    .addHelpText('after', `
Only GET requests and the analytics query (a read) reach OpenRouter; no key string is printed. The flags shared with
the operator fall back to its environment variables (POD_NAMESPACE, TEAMKEYS_CLUSTER_ID, TEAMKEYS_OPENROUTER_URL, ...).
Exit status: 0 when no check found a problem (warnings alone pass), 1 on a problem, 2 on a usage mistake.
`);
}

/** Pure: flags over the operator's environment variables over its defaults; a bad value is a usage mistake (exit 2). */
export function doctorSettings(f: DoctorFlags, env: NodeJS.ProcessEnv): DoctorSettings {
  if (f.managementKeyEnv !== undefined && !ENV_NAME.test(f.managementKeyEnv)) {
    // never echoed: a key string given here by mistake must not reach the terminal again
    throw new CliError('--management-key-env takes the NAME of an environment variable (letters, digits and _), not the key itself', 2);
  }
  const raw = {
    namespace: f.namespace ?? env[FLAGS.namespace],
    clusterId: f.clusterId ?? env[FLAGS['cluster-id']],
    managementKeySecret: f.managementKeySecret ?? env[FLAGS['management-key-secret']],
    managementKeySecretKey: f.managementKeySecretKey ?? env[FLAGS['management-key-secret-key']],
    openrouterUrl: f.openrouterUrl ?? env[FLAGS['openrouter-url']],
    orphanGrace: f.orphanGrace ?? env[FLAGS['orphan-grace']],
    namespaceSelector: f.namespaceSelector ?? env[FLAGS['namespace-selector']],
    leaseName: f.leaseName ?? env[FLAGS['lease-name']],
  };
  const r = Shared.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0];
    const flag = String(i?.path[0] ?? '').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    throw new CliError(`--${flag}: ${i?.message ?? 'invalid'}`, 2);
  }
  return { ...r.data, keyEnv: f.managementKeyEnv, connection: { kubeconfig: f.kubeconfig, context: f.context, as: f.as } };
}
