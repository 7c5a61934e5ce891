import { createServer, type Server } from 'node:http';
import { Gauge, type Registry } from 'prom-client';

export interface Probes {
  /** the process is alive and its loops are not wedged */
  healthy(): boolean;
  /** why the replica is not ready, or undefined when it is */
  notReady(): string | undefined;
}

/**
 * /metrics, /healthz and /readyz on one port; teamkeys_ready carries /readyz's answer into the scrape.
 * `afterScrape`: called once a scrape's text is made (to let go of series computed for it).
 */
export async function startProbeServer(port: number, host: string, registry: Registry, probes: Probes, afterScrape?: () => void): Promise<Server> {
  if (!registry.getSingleMetric('teamkeys_ready')) {
    registry.registerMetric(new Gauge({ name: 'teamkeys_ready', help: '1 while /readyz answers 200 (caches synced, management key valid), on the leader and a standby alike.', registers: [], collect() { this.set(probes.notReady() ? 0 : 1); } }));
  }
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      registry.metrics().then((text) => {
        afterScrape?.();
        res.writeHead(200, { 'content-type': registry.contentType });
        res.end(text);
      }, () => {
        res.writeHead(500);
        res.end();
      });
      return;
    }
    if (path === '/healthz') {
      const ok = probes.healthy();
      res.writeHead(ok ? 200 : 500, { 'content-type': 'text/plain' });
      res.end(ok ? 'ok\n' : 'unhealthy\n');
      return;
    }
    if (path === '/readyz') {
      const why = probes.notReady();
      res.writeHead(why ? 503 : 200, { 'content-type': 'text/plain' });
      res.end(why ? `not ready: ${why}\n` : 'ok\n');
      return;
    }
    res.writeHead(404);
    res.end();
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}
