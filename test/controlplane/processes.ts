/** Child processes of the local cluster: free ports, launch with a log file, wait for health, stop. */
import { spawn, type ChildProcess } from 'node:child_process';
import { open } from 'node:fs/promises';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => (addr && typeof addr === 'object' ? res(addr.port) : rej(new Error('no port'))));
    });
  });
}

export async function launch(bin: string, args: string[], log: string, detached: boolean): Promise<ChildProcess> {
  const fh = await open(log, 'a');
  const child = spawn(bin, args, { stdio: ['ignore', fh.fd, fh.fd], detached });
  await fh.close();
  if (detached) child.unref();
  return child;
}

/** Polls `probe` until it answers true; fails early when the process exits. */
export async function waitFor(what: string, timeoutMs: number, child: ChildProcess | undefined, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child && (child.exitCode !== null || child.signalCode !== null)) throw new Error(`${what} exited early (${child.exitCode ?? child.signalCode})`);
    if (await probe().catch(() => false)) return;
    await sleep(150);
  }
  throw new Error(`${what} not ready after ${timeoutMs} ms`);
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM, then SIGKILL after `timeoutMs` (envtest allows 20 s per process). */
export async function stopProcess(pid: number, timeoutMs = 20_000): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!alive(pid)) return;
    await sleep(100);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
