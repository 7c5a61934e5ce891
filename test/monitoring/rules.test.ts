/**
 * The alerts of deploy/monitoring/prometheusrule.yaml, checked and unit-tested by promtool (Prometheus's own rule
 * engine): each alert firing and not, its for: duration, the spike alert's floor. The test files are the YAML
 * files beside this one.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';
import { onPath, ruleSpec, rulesFile } from './prometheus.ts';

const run = promisify(execFile);
const HERE = import.meta.dirname;
const DOCS = resolve(HERE, '../../docs/monitoring.md');

const UnitTests = z.object({
  tests: z.array(z.object({
    name: z.string(),
    alert_rule_test: z.array(z.object({ alertname: z.string(), exp_alerts: z.array(z.unknown()) })).optional(),
  })),
});

let dir = '';
let promtool = '';
let files: string[] = [];
beforeAll(async () => {
  promtool = (await onPath('promtool')) ?? '';
  if (!promtool) throw new Error('promtool not found on PATH (Debian: apt-get install prometheus; .ci/run installs it)');
  dir = await mkdtemp(join(tmpdir(), 'teamkeys-rules-'));
  await writeFile(join(dir, 'rules.yaml'), await rulesFile());
  files = (await readdir(HERE)).filter((f) => f.endsWith('.yaml')).toSorted();
  for (const f of files) await copyFile(join(HERE, f), join(dir, f));
});
afterAll(() => (dir ? rm(dir, { recursive: true, force: true }) : undefined));

const promtoolRun = async (args: string[]) => {
  try {
    return (await run(promtool, args, { cwd: dir, maxBuffer: 1 << 24 })).stdout;
  } catch (e) {
    const o = e as { stdout?: string; stderr?: string };
    throw new Error(`promtool ${args.join(' ')} failed:\n${o.stdout ?? ''}${o.stderr ?? ''}`, { cause: e });
  }
};

describe('alert rules', () => {
  it('pass promtool check rules', async () => {
    const out = await promtoolRun(['check', 'rules', 'rules.yaml']);
    expect(out).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('pass their promtool unit tests', async () => {
    expect(files.length).toBeGreaterThan(0);
    const out = await promtoolRun(['test', 'rules', ...files]);
    expect(out).not.toContain('FAILED');
  });

  it('are each unit-tested firing and not firing', async () => {
    const firing = new Set<string>();
    const silent = new Set<string>();
    for (const f of files) {
      for (const t of UnitTests.parse(parse(await readFile(join(HERE, f), 'utf8'))).tests) {
        for (const a of t.alert_rule_test ?? []) (a.exp_alerts.length > 0 ? firing : silent).add(a.alertname);
      }
    }
    const alerts = (await ruleSpec()).groups.flatMap((g) => g.rules).flatMap((r) => (r.alert ? [r.alert] : []));
    expect(alerts.length).toBeGreaterThan(10);
    expect(alerts.filter((a) => !firing.has(a)), 'alerts never tested firing').toEqual([]);
    expect(alerts.filter((a) => !silent.has(a)), 'alerts never tested silent').toEqual([]);
  });

  it('carry a severity, a summary, a description and a runbook anchor that docs/monitoring.md has', async () => {
    const docs = await readFile(DOCS, 'utf8');
    // GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes
    const anchors = new Set([...docs.matchAll(/^#+ (.+)$/gm)].map((m) => (m[1] ?? '').trim().toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-')));
    for (const r of (await ruleSpec()).groups.flatMap((g) => g.rules)) {
      if (!r.alert) continue;
      expect(r.labels?.['severity'], r.alert).toMatch(/^(info|warning|critical)$/);
      expect(r.annotations?.['summary'], r.alert).toBeTruthy();
      expect(r.annotations?.['description'], r.alert).toBeTruthy();
      const anchor = /docs\/monitoring\.md#(.+)$/.exec(r.annotations?.['runbook_url'] ?? '')?.[1];
      expect(anchor && anchors.has(anchor) ? anchor : `${r.alert}: runbook_url ${r.annotations?.['runbook_url'] ?? '(none)'} has no heading in docs/monitoring.md`).toBe(anchor);
      // the alert table documents every alert with its threshold
      expect(docs, `${r.alert} in the table of docs/monitoring.md`).toMatch(new RegExp(`^\\| \`${r.alert}\` \\|`, 'm'));
    }
  });
});
