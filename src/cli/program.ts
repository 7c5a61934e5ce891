/**
 * The command line of `teamkeys report|doctor` and of the kubectl plugin (`kubectl teamkeys report|rotate|status|doctor`):
 * flags in kubectl's habit, parsed by commander. Exit codes: 0 done, 1 the cluster refused or failed (doctor: a
 * check found a problem), 2 a usage mistake (unknown flag, bad value), with the reason on stderr.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { redactKeys } from '../util/redact.ts';
import { runDoctor, runReport, runRotate, runStatus, type Io } from './commands.ts';
import { doctorOptions, type DoctorFlags } from './doctor-settings.ts';
import type { Flags, ReportFlags, RotateFlags } from './flags.ts';
import { CliError } from './kube.ts';
import { parseSince } from './period.ts';
import { OUTPUTS } from './render.ts';
import { SORT_KEYS } from './rows.ts';

/** Runs one command line (argv without node and script) and returns the exit code. */
export async function runCli(name: string, argv: readonly string[], io: Io = processIo(), env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let code = 0;
  const program = build(name, io, env, (c) => {
    code = c;
  });
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return code;
  } catch (e) {
    // commander already printed its own message (unknown option, missing argument, invalid choice, help)
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    if (e instanceof CliError) {
      io.err(`error: ${e.message}\n`);
      return e.exitCode;
    }
    throw e;
  }
}

function build(name: string, io: Io, env: NodeJS.ProcessEnv, exit: (code: number) => void): Command {
  const program = new Command(name)
    .description('teamkeys: usage reports, rotations and status of TeamMembers, read from Kubernetes only; doctor checks the OpenRouter account')
    .exitOverride()
    // commander echoes a mistyped option whole: a key string given by mistake must not reach the terminal's scrollback
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(redactKeys(s)) })
    .showHelpAfterError('(add --help for usage)');

  connection(program.command('report'))
    .description('Usage per member for a period (the weekly report): spend, requests, limit, forecast')
    .option('--policy <name>', 'only members of this KeyPolicy')
    .option('--since <duration>', 'the period: today and the days before it, e.g. 7d, 36h, 2w (at most 31d)', since, '7d')
    .addOption(new Option('--sort <key>', 'cost, requests and used: biggest first; remaining: smallest first; name').choices(SORT_KEYS).default('cost'))
    .addOption(new Option('-o, --output <format>', 'output format').choices(OUTPUTS).default('table'))
    .action((opts: ReportFlags) => runReport(opts, io, Date.now()));

  connection(program.command('rotate'))
    .description('Ask for a new key now (sets the teamkeys.dev/rotate annotation); the old key works for the overlap')
    .argument('<name>', 'the TeamMember')
    .option('--reason <text>', 'why, kept in the annotation value and in status.rotation.lastRequest', reason)
    .action((memberName: string, opts: RotateFlags) => runRotate(memberName, opts, io, Date.now()));

  connection(program.command('status'))
    .description('A short summary per member: ready, key, budget, forecast, rotation, inactivity')
    .argument('[name]', 'one TeamMember (default: all in the namespace)')
    .action((memberName: string | undefined, opts: Flags) => runStatus(memberName, opts, io));

  doctorOptions(program.command('doctor')).action(async (opts: DoctorFlags) => exit(await runDoctor(opts, io, env, Date.now())));

  return program;
}

/** The flags every command shares, as kubectl spells them. */
function connection(cmd: Command): Command {
  return cmd
    .option('-n, --namespace <namespace>', "the namespace (default: the kubeconfig context's, else default)")
    .option('-A, --all-namespaces', 'every namespace (wins over -n)')
    .option('--kubeconfig <path>', 'the kubeconfig (default: KUBECONFIG, then ~/.kube/config)')
    .option('--context <name>', 'the kubeconfig context to use')
    .option('--as <user>', 'impersonate this user or ServiceAccount (system:serviceaccount:NS:NAME)');
}

function since(v: string): string {
  try {
    parseSince(v);
    return v;
  } catch (e) {
    throw new InvalidArgumentError(e instanceof Error ? e.message : String(e));
  }
}

function reason(v: string): string {
  if (v.length > 200) throw new InvalidArgumentError('at most 200 characters');
  return v;
}

function processIo(): Io {
  return { out: (s) => void process.stdout.write(s), err: (s) => void process.stderr.write(s) };
}
