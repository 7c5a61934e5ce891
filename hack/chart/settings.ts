/**
 * The operator settings the chart exposes as values, each tied to its flag in src/config.ts (whose env name the
 * Deployment sets) and to the operator's own default. A setting left at that default adds no env entry, so the
 * chart's default Deployment is exactly deploy/deployment.yaml.
 */
import { FLAGS, loadConfig } from '../../src/config.ts';

export interface Setting {
  /** path under .Values */
  path: string;
  flag: keyof typeof FLAGS;
  /** the operator's default; none: the setting is optional and unset by default */
  default?: string | number | boolean;
  /** a map of labels, passed as k=v,k2=v2 */
  selector?: true;
}

const d = loadConfig([], {});

export const SETTINGS: Setting[] = [
  { path: 'clusterId', flag: 'cluster-id' },
  { path: 'namespaceSelector', flag: 'namespace-selector', selector: true },
  { path: 'managementKey.secretName', flag: 'management-key-secret', default: d.managementKeySecret },
  { path: 'managementKey.secretKey', flag: 'management-key-secret-key', default: d.managementKeySecretKey },
  { path: 'openrouterUrl', flag: 'openrouter-url', default: d.openrouterUrl },
  { path: 'restartWorkloads', flag: 'restart-workloads', default: d.restartWorkloads },
  { path: 'restarts.perMinute', flag: 'restarts-per-minute', default: d.restartsPerMinute },
  { path: 'restarts.perNamespacePerMinute', flag: 'namespace-restarts-per-minute', default: d.namespaceRestartsPerMinute },
  { path: 'leaderElection.enabled', flag: 'leader-elect', default: d.leaderElect },
  { path: 'leaderElection.leaseName', flag: 'lease-name', default: d.leaseName },
  { path: 'metrics.port', flag: 'metrics-port', default: d.metricsPort },
  { path: 'metrics.memberMetrics', flag: 'member-metrics', default: d.memberMetrics },
  { path: 'logLevel', flag: 'log-level', default: d.logLevel },
];

/** The operator's default for a setting (the chart's values default to it). */
export function settingDefault(path: string): string | number | boolean {
  const s = SETTINGS.find((x) => x.path === path);
  if (s?.default === undefined) throw new Error(`no default for ${path}`);
  return s.default;
}

/** The env entries (template lines, list items) of the settings that differ from the operator's defaults. */
export function settingsEnv(): string[] {
  return SETTINGS.flatMap((s) => {
    const v = `.Values.${s.path}`;
    const name = `- name: ${FLAGS[s.flag]}`;
    if (s.default === undefined) {
      const value = s.selector ? '{{ include "teamkeys.selector" . | quote }}' : '{{ . | toString | quote }}';
      return [`{{- with ${v} }}`, name, `  value: ${value}`, '{{- end }}'];
    }
    return [`{{- if ne (toString ${v}) ${JSON.stringify(String(s.default))} }}`, name, `  value: {{ ${v} | toString | quote }}`, '{{- end }}'];
  });
}
