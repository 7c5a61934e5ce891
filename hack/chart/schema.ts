/**
 * Pure: values.schema.json, so `helm install/upgrade/lint/template` refuse a misspelt value or a setting the
 * operator would refuse at start (the settings' checks are src/config.ts's own).
 */
import { z } from 'zod';
import { Config } from '../../src/config.ts';
import type { Sources } from './sources.ts';

const s = Config.shape;
const labels = z.record(z.string(), z.string());
const bool = z.boolean();
/** null drops a default map or list (Helm merges maps); --reuse-values keeps that null in what it validates */
const dropped = <T extends z.ZodType>(t: T) => t.nullable();

export function valuesSchema(src: Sources): string {
  const toggle = z.strictObject({ enabled: bool, labels }).partial();
  const monitoring = Object.keys(src.monitoring).map((f) => (f === 'servicemonitor.yaml' ? 'serviceMonitor' : 'prometheusRule'));
  const values = z.strictObject({
    image: z.strictObject({
      repository: z.string().min(1),
      tag: z.union([z.string(), z.number()]),
      digest: z.union([z.literal(''), z.string().regex(/^sha256:[0-9a-f]+$/)]),
      pullPolicy: z.enum(['', 'Always', 'IfNotPresent', 'Never']),
    }).partial(),
    replicas: z.int().min(0),
    resources: dropped(z.record(z.string(), z.unknown())),
    nodeOptions: z.string(),
    clusterId: z.union([z.literal(''), s.clusterId.unwrap()]),
    namespaceSelector: labels,
    managementKey: z.strictObject({ secretName: s.managementKeySecret.unwrap(), secretKey: s.managementKeySecretKey.unwrap() }).partial(),
    openrouterUrl: s.openrouterUrl.unwrap(),
    restartWorkloads: bool,
    restarts: z.strictObject({ perMinute: s.restartsPerMinute.unwrap(), perNamespacePerMinute: s.namespaceRestartsPerMinute.unwrap() }).partial(),
    leaderElection: z.strictObject({ enabled: bool, leaseName: s.leaseName.unwrap() }).partial(),
    logLevel: s.logLevel.unwrap(),
    metrics: z.strictObject({ port: z.int().min(1).max(65535), memberMetrics: bool }).partial(),
    ...(monitoring.length > 0 ? { monitoring: z.strictObject(Object.fromEntries(monitoring.map((k) => [k, toggle]))).partial() } : {}),
    extraEnv: dropped(z.array(z.looseObject({ name: z.string().min(1) }))),
    nodeSelector: dropped(labels),
    tolerations: dropped(z.array(z.record(z.string(), z.unknown()))),
    affinity: dropped(z.record(z.string(), z.unknown())),
    podAnnotations: dropped(labels),
    crds: z.strictObject({ install: bool, keep: bool }).partial(),
    namespace: z.strictObject({ applyLabels: bool }).partial(),
    fullnameOverride: z.string(),
    // Helm passes global values to every chart
    global: z.record(z.string(), z.unknown()),
  }).partial();
  // zod bounds integers to the safe range; values need no such bound
  const unbounded = (k: string, v: unknown) => ((k === 'minimum' || k === 'maximum') && typeof v === 'number' && Math.abs(v) >= Number.MAX_SAFE_INTEGER ? undefined : v);
  return `${JSON.stringify(z.toJSONSchema(values, { io: 'input', unrepresentable: 'throw' }), unbounded, 2)}\n`;
}
