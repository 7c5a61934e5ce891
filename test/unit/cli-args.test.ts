/** Argument parsing of `teamkeys report` and the kubectl plugin: mistakes exit 2 with the reason, before any API call. */
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/program.ts';

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli('kubectl teamkeys', argv, { out: (s) => void (out += s), err: (s) => void (err += s) });
  return { code, out, err };
}

describe('kubectl teamkeys arguments', () => {
  it.each([
    [['report', '--bogus'], "error: unknown option '--bogus'"],
    // a key string pasted as an option by mistake is not echoed back
    [['doctor', `--management-key=sk-or-v1-${'ab12'.repeat(16)}`], "error: unknown option '--management-key=sk-or-v1-[redacted]'"],
    [['report', '--since', '7'], "error: option '--since <duration>' argument '7' is invalid. \"7\" is not a duration such as 7d, 36h or 2w"],
    [['report', '--since', '6w'], 'at most 31d: status keeps the last 31 days'],
    [['report', '--sort', 'spend'], "error: option '--sort <key>' argument 'spend' is invalid. Allowed choices are cost, requests, remaining, used, name."],
    [['report', '-o', 'xml'], "error: option '-o, --output <format>' argument 'xml' is invalid. Allowed choices are table, wide, json, csv, yaml."],
    [['report', '-n'], "error: option '-n, --namespace <namespace>' argument missing"],
    [['rotate'], "error: missing required argument 'name'"],
    [['rotate', 'alice', '--reason', 'x'.repeat(201)], 'at most 200 characters'],
    [['rotate', 'alice', '-A'], 'error: rotate takes one TeamMember: name its namespace with -n, not -A'],
    [['status', 'alice', '-A'], 'error: a TeamMember cannot be named across all namespaces: use -n'],
    [['frobnicate'], "error: unknown command 'frobnicate'"],
    [[], 'Usage: kubectl teamkeys [options] [command]'],
  ])('%j exits 2: %s', async (argv, message) => {
    const r = await run(...argv);
    expect(r).toMatchObject({ code: 2, out: '' });
    expect(r.err).toContain(message);
  });

  it('--help exits 0 and lists the flags in the kubectl habit', async () => {
    const r = await run('report', '--help');
    expect(r.code).toBe(0);
    for (const flag of ['-n, --namespace', '-A, --all-namespaces', '--policy', '--since', '--sort', '-o, --output', '--kubeconfig', '--context', '--as']) expect(r.out).toContain(flag);
  });

  it('a kubeconfig that does not exist is an error of its own, exit 1', async () => {
    const r = await run('report', '--kubeconfig', '/nonexistent/kubeconfig');
    expect(r).toMatchObject({ code: 1, err: 'error: kubeconfig /nonexistent/kubeconfig does not exist\n' });
  });
});
