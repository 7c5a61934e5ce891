/** The per-member families rendered outside prom-client: the same text prom-client writes, with the rest of a scrape. */
import { Counter, Gauge, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { TeamMember } from '../../src/api/schema.ts';
import { exposition, type Family } from '../../src/metrics/exposition.ts';
import { Metrics, type MetricSources } from '../../src/metrics/metrics.ts';

/** prom-client as the oracle: the same families as its own gauges and counters, labelled as a member's are. */
async function byPromClient(families: readonly Family[]): Promise<string> {
  const registry = new Registry();
  const labelNames = ['namespace', 'member', 'policy'];
  for (const f of families) {
    if (f.type === 'counter') {
      const c = new Counter({ name: f.name, help: f.help, labelNames, registers: [registry] });
      for (const s of f.samples) c.inc(s.labels, s.value);
    } else {
      const g = new Gauge({ name: f.name, help: f.help, labelNames, registers: [registry] });
      for (const s of f.samples) g.set(s.labels, s.value);
    }
  }
  return registry.metrics();
}

describe('exposition', () => {
  it('writes what prom-client writes: escaped help and label values, every kind of number, empty families', async () => {
    const ann = { namespace: 'team-a', member: 'ann', policy: 'std' };
    const odd = { namespace: 'ns', member: 'back\\slash "quoted"\nline', policy: 'ünï' };
    const families: Family[] = [
      { name: 'teamkeys_x_usd', help: "A member's spend \\ with a\nnewline and \"quotes\".", type: 'gauge', samples: [{ labels: ann, value: 12.5 }, { labels: odd, value: -0.000001 }] },
      { name: 'teamkeys_y_seconds', help: 'Big and odd values.', type: 'gauge', samples: [{ labels: ann, value: 1.7e21 }, { labels: odd, value: Number.POSITIVE_INFINITY }, { labels: { namespace: 'n', member: 'm', policy: 'p' }, value: Number.NEGATIVE_INFINITY }] },
      { name: 'teamkeys_empty', help: 'No samples.', type: 'gauge', samples: [] },
      { name: 'teamkeys_z_usd_total', help: 'A counter.', type: 'counter', samples: [{ labels: ann, value: 3 }, { labels: odd, value: 0 }] },
    ];
    expect(exposition(families)).toBe(await byPromClient(families));
  });

  it('writes nothing for no families', () => {
    expect(exposition([])).toBe('');
  });
});

describe('Metrics', () => {
  const member = (name: string, ready: boolean): TeamMember => ({
    apiVersion: 'teamkeys.dev/v1alpha1', kind: 'TeamMember', metadata: { name, namespace: 'ns', uid: name },
    spec: { policy: 'p', suspended: false },
    status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'False', reason: 'KeyReady', message: '', lastTransitionTime: '2027-03-10T12:00:00Z' }] },
  });
  const sources = (memberMetrics: boolean): MetricSources => ({
    queueDepth: () => 0, rateLimitWaitMs: () => 0, restartsQueued: () => 0, kubernetesWrites: () => new Map(), kubernetesReads: () => new Map(),
    rateLimit: () => ({ perSecond: 10, cuts: 0 }), leading: () => true, clusterId: () => 'c', managementKeyValid: () => true,
    members: () => [member('ann', true), member('bob', false)], policies: () => [], now: () => Date.parse('2027-03-10T12:00:00Z'), memberMetrics,
  });

  it("ends the registry's text with the per-member families, once each, after prom-client's own", async () => {
    const text = await new Metrics(sources(true)).registry.metrics();
    expect(text.match(/^# TYPE teamkeys_member_ready gauge$/gm)).toHaveLength(1);
    expect(text).toContain('teamkeys_member_ready{namespace="ns",member="ann",policy="p"} 1\nteamkeys_member_ready{namespace="ns",member="bob",policy="p"} 0\n');
    expect(text).toMatch(/^# TYPE teamkeys_member_spend_usd_total counter$/m);
    expect(text.indexOf('teamkeys_queue_depth')).toBeLessThan(text.indexOf('teamkeys_member_ready'));
    // families are separated by one blank line, as in prom-client's half, and the text ends with one newline
    expect(text).not.toMatch(/\n\n\n/);
    expect(text.endsWith('\n') && !text.endsWith('\n\n')).toBe(true);
  });

  it('has no per-member family without --member-metrics', async () => {
    expect(await new Metrics(sources(false)).registry.metrics()).not.toMatch(/teamkeys_member_/);
  });
});
