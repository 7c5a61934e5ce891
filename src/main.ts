#!/usr/bin/env node
/**
 * Wiring only: `teamkeys <command> [flags]`. Each command's code is loaded when it runs: the operator's process
 * never loads the CLI's client-node clients (about 80 MB of RSS) or the emulator.
 */
const commands: Record<string, (argv: string[]) => Promise<void>> = {
  emulator: async (argv) => (await import('./emulator/cli.ts')).runEmulator(argv),
  crds: async (argv) => (await import('./api/crds-cli.ts')).runCrds(argv),
  operator: async (argv) => (await import('./operator-cli.ts')).runOperator(argv),
  report: async (argv) => {
    process.exitCode = await (await import('./cli/program.ts')).runCli('teamkeys', ['report', ...argv]);
  },
  doctor: async (argv) => {
    process.exitCode = await (await import('./cli/program.ts')).runCli('teamkeys', ['doctor', ...argv]);
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
