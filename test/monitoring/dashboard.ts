/** The PromQL of deploy/monitoring/dashboard.json, with what each panel needs of its answer. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { MONITORING_DIR } from './prometheus.ts';

const Target = z.object({ refId: z.string(), expr: z.string(), legendFormat: z.string().optional(), format: z.string().optional(), datasource: z.object({ uid: z.string() }) });
interface Panel {
  type: string;
  title: string;
  datasource?: { uid: string } | undefined;
  targets?: z.infer<typeof Target>[] | undefined;
  transformations?: { id: string; options: { renameByName?: Record<string, string> | undefined } }[] | undefined;
  panels?: Panel[] | undefined;
}
const Panel: z.ZodType<Panel> = z.lazy(() => z.object({
  type: z.string(),
  title: z.string(),
  datasource: z.object({ uid: z.string() }).optional(),
  targets: z.array(Target).optional(),
  transformations: z.array(z.object({ id: z.string(), options: z.object({ renameByName: z.record(z.string(), z.string()).optional() }) })).optional(),
  panels: z.array(Panel).optional(),
}));
const Variable = z.object({ name: z.string(), type: z.string(), definition: z.string().optional(), datasource: z.object({ uid: z.string() }).optional() });
export const Dashboard = z.object({
  uid: z.string(),
  title: z.string(),
  schemaVersion: z.number(),
  templating: z.object({ list: z.array(Variable) }),
  panels: z.array(Panel),
});
export type Dashboard = z.infer<typeof Dashboard>;

export interface PanelQuery {
  panel: string;
  refId: string;
  expr: string;
  datasource: string;
  /** labels the legend (or the table's columns) shows: every series answered must carry them */
  labels: string[];
}

export async function loadDashboard(): Promise<Dashboard> {
  return Dashboard.parse(JSON.parse(await readFile(join(MONITORING_DIR, 'dashboard.json'), 'utf8')));
}

export function panelQueries(d: Dashboard): PanelQuery[] {
  const flat = (ps: Panel[]): Panel[] => ps.flatMap((p) => [p, ...flat(p.panels ?? [])]);
  return flat(d.panels).flatMap((p) => (p.targets ?? []).map((t) => {
    const legend = [...(t.legendFormat ?? '').matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((m) => m[1] ?? '');
    const columns = (p.transformations ?? []).flatMap((x) => Object.keys(x.options.renameByName ?? {})).filter((c) => c !== 'Value' && c !== 'Time');
    return { panel: p.title, refId: t.refId, expr: t.expr, datasource: t.datasource.uid, labels: [...new Set([...legend, ...columns])] };
  }));
}

/**
 * What Grafana sends for the dashboard's variables with "All" selected (multi-value variables become a regex;
 * All is .*). $__rate_interval is at least four scrape intervals: `rateInterval` stands in for it.
 */
export function substitute(expr: string, rateInterval: string): string {
  return expr.replaceAll('$__rate_interval', rateInterval).replaceAll('$policy', '.*').replaceAll('$namespace', '.*');
}
