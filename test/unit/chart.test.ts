import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHART_DIR, chartFiles } from '../../hack/chart/generate.ts';

const ROOT = join(import.meta.dirname, '../..');
const CHART = join(ROOT, CHART_DIR);

describe('the committed Helm chart', () => {
  const files = chartFiles(ROOT);

  it.each(Object.entries(files))('%s is what hack/chart.ts generates from deploy/ and crds/ (run `make chart`)', (path, text) => {
    expect(readFileSync(join(CHART, path), 'utf8')).toBe(text);
  });

  it('holds no file the generator does not write (run `make chart`)', () => {
    const onDisk = readdirSync(CHART, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => relative(CHART, join(e.parentPath, e.name)));
    expect(onDisk.toSorted()).toEqual(Object.keys(files).toSorted());
  });
});

describe('the chart generator', () => {
  /** deploy/, crds/ and package.json copied, with or without a deploy/monitoring/servicemonitor.yaml */
  function sources(serviceMonitor: boolean): string {
    const root = mkdtempSync(join(tmpdir(), 'teamkeys-chart-'));
    for (const p of ['deploy', 'crds', 'package.json']) cpSync(join(ROOT, p), join(root, p), { recursive: true });
    rmSync(join(root, 'deploy/monitoring'), { recursive: true, force: true });
    if (serviceMonitor) {
      mkdirSync(join(root, 'deploy/monitoring'));
      writeFileSync(join(root, 'deploy/monitoring/servicemonitor.yaml'), 'apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: teamkeys-operator}\nspec: {endpoints: [{port: metrics}]}\n');
    }
    return root;
  }

  it('leaves deploy/monitoring/ objects and their values out when the files are absent', () => {
    const files = chartFiles(sources(false));
    expect(Object.keys(files).filter((p) => p.includes('monitoring'))).toEqual([]);
    expect(files['values.yaml']).not.toMatch(/^monitoring:/m);
  });

  it('templates each deploy/monitoring/ file present behind its own value', () => {
    const files = chartFiles(sources(true));
    expect(Object.keys(files).filter((p) => p.includes('monitoring'))).toEqual(['templates/monitoring/servicemonitor.yaml']);
    expect(files['templates/monitoring/servicemonitor.yaml']).toContain('{{- if .Values.monitoring.serviceMonitor.enabled }}');
    expect(files['values.yaml']).toMatch(/^monitoring:\n {2}serviceMonitor:\n {4}enabled: false$/m);
    expect(files['values.yaml']).not.toContain('prometheusRule');
  });
});
