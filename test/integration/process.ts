/** Runs `teamkeys operator` as its own process, as a user would, capturing its JSON log lines. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '../..');

export interface OperatorProcess {
  child: ChildProcess;
  logs: string[];
  identity: string;
  exited: Promise<number | null>;
  logged(text: string): boolean;
}

/** `entry`: the program to run (default the sources; the benchmark runs the built dist/main.js, as the image does). */
export function startOperatorProcess(identity: string, env: Record<string, string>, opts: { entry?: string; nodeArgs?: string[] } = {}): OperatorProcess {
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), opts.entry ?? join(ROOT, 'src/main.ts'), 'operator'], {
    env: { ...process.env, POD_NAME: identity, TEAMKEYS_METRICS_PORT: '0', TEAMKEYS_METRICS_HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  child.stdout?.on('data', (b: Buffer) => logs.push(b.toString()));
  child.stderr?.on('data', (b: Buffer) => logs.push(b.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, logs, identity, exited, logged: (text) => logs.join('').includes(text) };
}
