/**
 * A real Prometheus next to the operator, for the monitoring test and `make demo`: the rules of
 * deploy/monitoring/prometheusrule.yaml loaded, the operator scraped the way the ServiceMonitor does (job
 * teamkeys, honor_labels, the target's namespace and pod as labels), and its HTTP API to query.
 */
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { delimiter, join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import { z } from 'zod';
import { freePort, launch, stopProcess, waitFor } from '../controlplane/processes.ts';

export const MONITORING_DIR = resolve(import.meta.dirname, '../../deploy/monitoring');
/** the job name prometheus-operator gives the ServiceMonitor's targets: the Service's app.kubernetes.io/name (jobLabel) */
export const JOB = 'teamkeys';

const Rule = z.object({ alert: z.string().optional(), record: z.string().optional(), expr: z.string(), for: z.string().optional(), labels: z.record(z.string(), z.string()).optional(), annotations: z.record(z.string(), z.string()).optional() });
const RuleSpec = z.object({ groups: z.array(z.object({ name: z.string(), rules: z.array(Rule) })) });
export type Rule = z.infer<typeof Rule>;
export type RuleSpec = z.infer<typeof RuleSpec>;

/** The PrometheusRule's spec: the rule groups prometheus-operator hands Prometheus unchanged. */
export async function ruleSpec(): Promise<RuleSpec> {
  const doc = z.object({ kind: z.literal('PrometheusRule'), spec: RuleSpec }).parse(parse(await readFile(join(MONITORING_DIR, 'prometheusrule.yaml'), 'utf8')));
  return doc.spec;
}

/** The rules as a plain Prometheus rules file; `forOverride` replaces every for: (a test cannot wait 15 minutes). */
export async function rulesFile(forOverride?: string): Promise<string> {
  const spec = await ruleSpec();
  if (forOverride !== undefined) for (const g of spec.groups) for (const r of g.rules) if (r.alert) r.for = forOverride;
  return stringify(spec);
}

/** The binary on PATH, or undefined. */
export async function onPath(name: string): Promise<string | undefined> {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    const p = join(dir, name);
    if (await access(p).then(() => true, () => false)) return p;
  }
  return undefined;
}

const Sample = z.object({ metric: z.record(z.string(), z.string()), value: z.tuple([z.number(), z.string()]) });
export type Sample = z.infer<typeof Sample>;
const Answer = z.object({ status: z.string(), data: z.unknown().optional(), error: z.string().optional() });
const Alert = z.object({ labels: z.record(z.string(), z.string()), annotations: z.record(z.string(), z.string()), state: z.string(), value: z.string() });
export type Alert = z.infer<typeof Alert>;

export interface Target {
  port: number;
  /** what service discovery would add: namespace, pod, ... */
  labels: Record<string, string>;
}

export interface StartOptions {
  dir: string;
  targets: Target[];
  /** scrape and rule evaluation interval */
  interval?: string;
  /** see rulesFile() */
  forOverride?: string;
  /** outlive this process (make demo) */
  detached?: boolean;
}

export interface Prometheus {
  url: string;
  pid: number;
  /** an instant query; throws on a PromQL error */
  query(expr: string): Promise<Sample[]>;
  labelValues(label: string, match: string): Promise<string[]>;
  alerts(): Promise<Alert[]>;
  stop(): Promise<void>;
}

async function api(url: string): Promise<unknown> {
  const res = await fetch(url);
  const body = Answer.parse(await res.json());
  if (body.status !== 'success') throw new Error(`${url}: ${body.error ?? res.status}`);
  return body.data;
}

export async function startPrometheus(o: StartOptions): Promise<Prometheus> {
  const bin = await onPath('prometheus');
  if (!bin) throw new Error('prometheus not found on PATH (Debian: apt-get install prometheus; .ci/run installs it)');
  await mkdir(join(o.dir, 'data'), { recursive: true });
  const interval = o.interval ?? '1s';
  await writeFile(join(o.dir, 'rules.yaml'), await rulesFile(o.forOverride));
  await writeFile(join(o.dir, 'prometheus.yml'), stringify({
    global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
    rule_files: ['rules.yaml'],
    scrape_configs: [{
      job_name: JOB,
      honor_labels: true,
      static_configs: o.targets.map((t) => ({ targets: [`127.0.0.1:${t.port}`], labels: t.labels })),
    }],
  }));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = await launch(bin, [
    `--config.file=${join(o.dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(o.dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn',
  ], join(o.dir, 'prometheus.log'), o.detached ?? false);
  const pid = child.pid ?? 0;
  await waitFor('prometheus', 30_000, child, async () => (await fetch(`${url}/-/ready`)).ok);
  return {
    url,
    pid,
    query: async (expr) => z.object({ resultType: z.literal('vector'), result: z.array(Sample) }).parse(await api(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`)).result,
    labelValues: async (label, match) => z.array(z.string()).parse(await api(`${url}/api/v1/label/${label}/values?match[]=${encodeURIComponent(match)}`)),
    alerts: async () => z.object({ alerts: z.array(Alert) }).parse(await api(`${url}/api/v1/alerts`)).alerts,
    stop: () => stopProcess(pid),
  };
}
