/**
 * Pure: metric families in the Prometheus text format (0.0.4), as prom-client writes them. For the per-member
 * families: at 10,000 members prom-client's gauges hashed, copied and escaped 100,000 samples a scrape; here each
 * member's labels are escaped once, however many families carry them.
 */
import type { Labels, Sample } from './fleet.ts';

export interface Family {
  name: string;
  help: string;
  type: 'gauge' | 'counter';
  samples: readonly Sample[];
}

const escape = (s: string) => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
const escapeLabel = (s: string) => escape(s).replace(/"/g, '\\"');

function value(v: number): string {
  if (Number.isNaN(v)) return 'Nan'; // sic: prom-client's spelling, kept so both halves of a scrape agree
  if (!Number.isFinite(v)) return v < 0 ? '-Inf' : '+Inf';
  return `${v}`;
}

/** The families, each as HELP, TYPE and its samples, separated by a blank line and ended by a newline (as prom-client). */
export function exposition(families: readonly Family[]): string {
  // a member's labels are one object shared by every family it appears in: escaped once per scrape
  const rendered = new Map<Labels, string>();
  const labelText = (labels: Labels) => {
    let s = rendered.get(labels);
    if (s === undefined) {
      const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
      s = pairs.length ? `{${pairs.join(',')}}` : '';
      rendered.set(labels, s);
    }
    return s;
  };
  const blocks = families.map((f) => {
    const name = escape(f.name);
    const lines = [`# HELP ${name} ${escape(f.help)}`, `# TYPE ${name} ${f.type}`];
    for (const x of f.samples) lines.push(`${name}${labelText(x.labels)} ${value(x.value)}`);
    return lines.join('\n');
  });
  return blocks.length ? `${blocks.join('\n\n')}\n` : '';
}
