import { loadConfig } from './config.ts';
import { loadKubeConfig } from './kube/cluster.ts';
import { createLogger } from './log.ts';
import { Operator } from './operator.ts';
import { systemClock } from './util/clock.ts';

/** `teamkeys operator [flags]`: runs the controller until SIGTERM. */
export async function runOperator(argv: string[]): Promise<void> {
  const cfg = loadConfig(argv);
  const log = createLogger('teamkeys', cfg.logLevel);
  const op = new Operator(cfg, loadKubeConfig(cfg.kubeconfig), systemClock, log);
  await op.start();
  log.info({ clusterId: cfg.clusterId, namespace: cfg.namespace, openrouter: cfg.openrouterUrl, workers: cfg.workers }, 'operator started');
  const stop = (signal: string) => {
    log.info({ signal }, 'shutting down');
    void op.stop().then(() => process.exit(0));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}
