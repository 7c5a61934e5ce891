import { loadConfig } from './config.ts';
import { loadKube } from './kube/kubeconfig.ts';
import { LeaderElector } from './kube/leader.ts';
import { createLogger } from './log.ts';
import { startProbeServer } from './metrics/server.ts';
import { Operator } from './operator.ts';
import { systemClock } from './util/clock.ts';
import { parseDuration } from './util/duration.ts';

/**
 * `teamkeys operator [flags]`: probes and metrics first, then warm caches, then (with --leader-elect, the
 * default) workers only while this replica holds the lease. SIGTERM stops informers, drains workers within
 * --shutdown-timeout, releases the lease and closes connections.
 */
export async function runOperator(argv: string[]): Promise<void> {
  const cfg = loadConfig(argv);
  const log = createLogger('teamkeys', cfg.logLevel);
  const kc = await loadKube(cfg.kubeconfig);
  const op = new Operator(cfg, kc, systemClock, log);
  const lease = parseDuration(cfg.leaseDuration);
  const elector = cfg.leaderElect
    ? new LeaderElector(op.cluster.http, { namespace: cfg.namespace, name: cfg.leaseName, identity: cfg.instance, leaseDurationMs: lease, renewDeadlineMs: (lease * 2) / 3, retryPeriodMs: (lease * 2) / 15 }, systemClock, log)
    : undefined;
  const server = await startProbeServer(cfg.metricsPort, cfg.metricsHost, op.metrics.registry, {
    healthy: () => op.healthy(),
    notReady: () => op.notReady(),
  }, () => op.metrics.releaseSeries());
  const address = server.address();
  const metricsPort = address && typeof address === 'object' ? address.port : cfg.metricsPort;
  log.info({ namespace: cfg.namespace, openrouter: cfg.openrouterUrl, workers: cfg.workers, metricsPort, leaderElect: cfg.leaderElect, identity: cfg.instance }, 'operator starting');

  let stopping = false;
  const shutdown = async (signal: string, code: number) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    const deadline = setTimeout(() => {
      log.error('shutdown deadline passed; exiting');
      process.exit(code || 1);
    }, parseDuration(cfg.shutdownTimeout) + 5_000);
    deadline.unref();
    await op.stop(parseDuration(cfg.shutdownTimeout));
    await elector?.stop();
    await new Promise<void>((r) => server.close(() => r()));
    process.exit(code);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM', 0));
  process.once('SIGINT', () => void shutdown('SIGINT', 0));

  await op.prepare();
  if (!elector) {
    op.lead();
    return;
  }
  log.info({ lease: `${cfg.namespace}/${cfg.leaseName}` }, 'standing by for the leader lease');
  elector.run(
    () => op.lead(),
    // client-go's rule: a leader that lost its lease must not keep writing; fence at once, then exit and let the
    // Deployment restart it
    () => {
      op.depose();
      void shutdown('lease lost', 1);
    },
  );
}
