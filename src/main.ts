#!/usr/bin/env node
import { runCrds } from './api/crds-cli.ts';
import { runEmulator } from './emulator/cli.ts';
import { runOperator } from './operator-cli.ts';

/** Wiring only: `teamkeys <command> [flags]`. */
const commands: Record<string, (argv: string[]) => Promise<void>> = {
  emulator: runEmulator,
  crds: runCrds,
  operator: runOperator,
};

const [name, ...rest] = process.argv.slice(2);
const command = name === undefined ? undefined : commands[name];
if (!command) {
  process.stderr.write(`usage: teamkeys <${Object.keys(commands).join('|')}> [flags]\n`);
  process.exit(2);
}
await command(rest);
