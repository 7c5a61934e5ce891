/**
 * A network partition between one process and the API server, as a TCP proxy in between: cut() stops carrying
 * bytes both ways and holds new connections unanswered (a black hole, the harsher case: calls hang instead of
 * failing); heal() drops what it held, so clients reconnect.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export class Partition {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private cutNow = false;
  port = 0;

  constructor(host: string, targetPort: number) {
    this.server = createServer((client) => {
      this.sockets.add(client);
      client.on('close', () => this.sockets.delete(client));
      client.on('error', () => client.destroy());
      if (this.cutNow) return; // held, never answered
      const upstream = connect(targetPort, host);
      this.sockets.add(upstream);
      upstream.on('close', () => { this.sockets.delete(upstream); client.destroy(); });
      upstream.on('error', () => upstream.destroy());
      client.on('close', () => upstream.destroy());
      client.on('data', (b: Buffer) => { if (!this.cutNow) upstream.write(b); });
      upstream.on('data', (b: Buffer) => { if (!this.cutNow) client.write(b); });
    });
  }

  async start(): Promise<number> {
    await new Promise<void>((ok) => this.server.listen(0, '127.0.0.1', ok));
    const a = this.server.address();
    this.port = a && typeof a === 'object' ? a.port : 0;
    return this.port;
  }

  cut(): void {
    this.cutNow = true;
  }

  heal(): void {
    this.cutNow = false;
    for (const s of this.sockets) s.destroy();
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((ok) => this.server.close(() => ok()));
  }
}
