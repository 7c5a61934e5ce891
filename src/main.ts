#!/usr/bin/env node
import { runCrds } from './api/crds-cli.ts';
import { runEmulator } from './emulator/cli.ts';
import { runCli } from './cli/program.ts';
import { runOperator } from './operator-cli.ts';

/** Wiring only: `teamkeys <command> [flags]`. */
const commands: Record<string, (argv: string[]) => Promise<void>> = {
  emulator: runEmulator,
  crds: runCrds,
  operator: runOperator,
  report: async (argv) => {
    process.exitCode = await runCli('teamkeys', ['report', ...argv]);
  },
  doctor: async (argv) => {
    process.exitCode = await runCli('teamkeys', ['doctor', ...argv]);
  },
};

const [name, ...rest] = process.argv.slice(2);
const command = name === undefined ? undefined : commands[name];
if (!command) {
  process.stderr.write(`usage: teamkeys <${Object.keys(commands).join('|')}> [flags]\n`);
  process.exit(2);
}
try {
  await command(rest);
} catch (e) {
  // a bad flag or setting is the user's to fix: say which, without a stack trace
  if (!(e instanceof Error)) throw e;
  const code = 'code' in e ? String(e.code) : '';
  if (!(code.startsWith('ERR_PARSE_ARGS') || e.message.startsWith('invalid configuration'))) throw e;
  process.stderr.write(`teamkeys ${name}: ${e.message}\n`);
  process.exit(2);
}
