import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { createLogger } from '../log.ts';
import { isErrno } from '../util/errors.ts';
import { Emulator } from './server.ts';
import { newSecret } from './state.ts';

const Flags = z.object({
  host: z.string().default('127.0.0.1'),
  port: z.coerce.number().int().min(0).max(65535).default(8787),
  'management-key-file': z.string().optional(),
  'state-file': z.string().optional(),
  credits: z.coerce.number().min(0).default(100),
  'allow-remote': z.boolean().default(false),
});

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** Reads the management key from a file, creating one (mode 0600) when the file does not exist yet. */
async function managementKeyFrom(file: string): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (e) {
    if (!isErrno(e, 'ENOENT')) throw e;
    const key = newSecret();
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, `${key}\n`, { mode: 0o600 });
    await chmod(file, 0o600);
    return key;
  }
}

export async function runEmulator(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      'management-key-file': { type: 'string' },
      'state-file': { type: 'string' },
      credits: { type: 'string' },
      'allow-remote': { type: 'boolean' },
    },
    strict: true,
  });
  const flags = Flags.parse(values);
  if (!LOOPBACK.has(flags.host) && !flags['allow-remote']) {
    throw new Error(`refusing to listen on ${flags.host}: the emulator's test controls are unauthenticated; pass --allow-remote to do it anyway`);
  }
  const fromEnv = (process.env['OPENROUTER_EMULATOR_MANAGEMENT_KEYS'] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const keyFile = flags['management-key-file'];
  const keys = keyFile ? [...fromEnv, await managementKeyFrom(keyFile)] : fromEnv;
  if (keys.length === 0) {
    throw new Error('no management key: pass --management-key-file <path> (created if missing) or set OPENROUTER_EMULATOR_MANAGEMENT_KEYS');
  }
  const logger = createLogger('emulator');
  const emulator = new Emulator({
    host: flags.host,
    port: flags.port,
    managementKeys: keys,
    stateFile: flags['state-file'],
    totalCredits: flags.credits,
    logger,
  });
  const url = await emulator.start();
  logger.info({ url: `${url}/api/v1`, controls: `${url}/_emulator`, managementKeyFile: keyFile ?? null, stateFile: flags['state-file'] ?? null }, 'emulator listening');
  const stop = (signal: string) => {
    logger.info({ signal }, 'stopping');
    void emulator.stop().then(() => process.exit(0));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}
