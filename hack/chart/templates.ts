/**
 * Pure: the chart's templates from the kustomize sources. Each object keeps its source's content; the edits are
 * those kustomize makes (namespace, labels, image) done the Helm way, plus the holes the values fill.
 */
import { Holes, yaml } from './holes.ts';
import { settingDefault, settingsEnv } from './settings.ts';
import type { Manifest, Meta, SourceDoc, SourceFile, Sources } from './sources.ts';

const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition']);

interface EnvVar { name: string }
interface Container { image?: string; env?: (EnvVar | string)[]; ports?: { name?: string; containerPort: number | string }[]; [f: string]: unknown }
interface PodSpec { serviceAccountName?: string; containers: Container[]; [f: string]: unknown }
interface Deployment extends Manifest { spec: { replicas?: number | string; template: { metadata?: Meta & Record<string, unknown>; spec: PodSpec } } }
interface Rule { apiGroups?: string[]; resources?: string[]; resourceNames?: string[] }
interface Binding extends Manifest { roleRef: { name: string }; subjects?: { kind: string; name: string; namespace?: string }[] }
interface Service extends Manifest { spec: { ports?: { name?: string; port: number | string }[] } }

const header = (path: string) => `{{- /* Generated from ${path} by hack/chart.ts (make chart); do not edit by hand. */}}`;

const commentLines = (c: string | undefined) => (c === undefined ? [] : c.split('\n').map((l) => `#${l}`));

/** One template document, optionally present only when `when` holds. */
function emit(h: Holes, object: unknown, comment: string | undefined, when?: string): string {
  const lines = ['---', ...commentLines(comment), h.render(yaml(object)).trimEnd()];
  return (when ? [`{{- if ${when} }}`, ...lines, '{{- end }}'] : lines).join('\n');
}

class Chart {
  private readonly src: Sources;
  constructor(src: Sources) {
    this.src = src;
  }

  /** deploy/ names every object teamkeys or teamkeys-*: the release's prefix instead (the same for release teamkeys). */
  private rename(h: Holes, name: string): string {
    const base = this.src.chart.name;
    return name === base || name.startsWith(`${base}-`) ? h.value('include "teamkeys.fullname" .') + name.slice(base.length) : name;
  }

  private meta(h: Holes, kind: string, m: Meta, extraLabels?: string): Record<string, unknown> {
    const labels: Record<string, string | null> = { ...this.src.labels, ...m.labels, [h.include('teamkeys.labels')]: null };
    if (extraLabels) labels[h.block((col) => [`{{- with ${extraLabels} }}`, `{{- toYaml . | nindent ${col} }}`, '{{- end }}'])] = null;
    const { name, namespace: _kustomized, labels: _source, ...rest } = m;
    return {
      name: kind === 'Namespace' ? h.value('.Release.Namespace') : this.rename(h, name),
      ...(CLUSTER_SCOPED.has(kind) ? {} : { namespace: h.value('.Release.Namespace') }),
      labels,
      ...rest,
    };
  }

  private deployment(h: Holes, d: Deployment): unknown {
    const pod = d.spec.template;
    const [c, ...rest] = pod.spec.containers;
    if (!c || rest.length > 0) throw new Error('deployment: expected one container');
    if (pod.metadata?.annotations) throw new Error('deployment: pod annotations come from values.podAnnotations');
    if (c.image !== this.src.image.name) throw new Error(`deployment: image ${c.image ?? ''} is not kustomization's ${this.src.image.name}`);
    const metrics = c.ports?.find((p) => p.name === 'metrics');
    if (metrics?.containerPort !== settingDefault('metrics.port')) throw new Error('deployment: the metrics port should be the operator default');
    const container: Container = {};
    for (const [k, v] of Object.entries(c)) {
      container[k] = v;
      if (k === 'image') {
        container[k] = h.value('include "teamkeys.image" . | quote');
        container['imagePullPolicy'] = h.block(() => ['{{- with .Values.image.pullPolicy }}', 'imagePullPolicy: {{ . }}', '{{- end }}']);
      }
    }
    // NODE_OPTIONS (the heap cap) is a value: sized up together with resources.limits.memory
    const env = (c.env ?? []).map((e) => (typeof e === 'object' && e.name === 'NODE_OPTIONS' ? { name: e.name, value: h.value('.Values.nodeOptions | quote') } : e));
    container.env = [...env, h.block((col) => [...settingsEnv(), '{{- with .Values.extraEnv }}', `{{- toYaml . | nindent ${col} }}`, '{{- end }}'])];
    container.ports = c.ports?.map((p) => (p === metrics ? { ...p, containerPort: h.value('.Values.metrics.port') } : p));
    container['resources'] = h.optionalYaml('.Values.resources');
    const spec: Record<string, unknown> = { ...pod.spec, serviceAccountName: this.rename(h, pod.spec.serviceAccountName ?? 'default'), containers: [container] };
    for (const k of ['nodeSelector', 'tolerations', 'affinity']) spec[k] = h.optionalYaml(`.Values.${k}`);
    return {
      ...d,
      metadata: this.meta(h, d.kind, d.metadata),
      spec: {
        ...d.spec,
        replicas: h.value('.Values.replicas'),
        template: { ...pod, metadata: { ...pod.metadata, annotations: h.optionalYaml('.Values.podAnnotations') }, spec },
      },
    };
  }

  private clusterRole(h: Holes, r: Manifest & { rules: Rule[] }): unknown {
    // the workload rules (apps, and Argo's rollouts) serve restarts only (deploy/rbac.yaml says so): they go with
    // restartWorkloads
    const rules = r.rules.map((rule) => (rule.resources?.includes('deployments') || rule.resources?.includes('rollouts') ? h.itemWhen('.Values.restartWorkloads', rule) : rule));
    return { ...r, metadata: this.meta(h, r.kind, r.metadata), rules };
  }

  private leaseRole(h: Holes, r: Manifest & { rules: Rule[] }): unknown {
    const lease = settingDefault('leaderElection.leaseName');
    const rules = r.rules.map((rule) => (rule.resourceNames?.includes(String(lease)) ? { ...rule, resourceNames: [h.value('.Values.leaderElection.leaseName')] } : rule));
    return { ...r, metadata: this.meta(h, r.kind, r.metadata), rules };
  }

  private binding(h: Holes, b: Binding): unknown {
    return {
      ...b,
      metadata: this.meta(h, b.kind, b.metadata),
      roleRef: { ...b.roleRef, name: this.rename(h, b.roleRef.name) },
      subjects: b.subjects?.map((s) => (s.kind === 'ServiceAccount' ? { ...s, name: this.rename(h, s.name), namespace: h.value('.Release.Namespace') } : s)),
    };
  }

  private service(h: Holes, s: Service): unknown {
    const ports = s.spec.ports?.map((p) => (p.name === 'metrics' ? { ...p, port: h.value('.Values.metrics.port') } : p));
    return { ...s, metadata: this.meta(h, s.kind, s.metadata), spec: { ...s.spec, ports } };
  }

  /** The Role the leader election needs, and its binding: there only with leader election. */
  private leaseRoleNames(file: SourceFile): Set<string> {
    const names = new Set<string>();
    for (const { object: o } of file.docs) {
      if (o.kind === 'Role' && (o['rules'] as Rule[]).some((r) => r.resources?.includes('leases'))) names.add(o.metadata.name);
    }
    return names;
  }

  private operatorDoc(h: Holes, doc: SourceDoc, leaseRoles: Set<string>): string {
    const o = doc.object;
    switch (o.kind) {
      case 'Deployment':
        return emit(h, this.deployment(h, o as Deployment), doc.comment);
      case 'ClusterRole':
        return emit(h, this.clusterRole(h, o as Manifest & { rules: Rule[] }), doc.comment);
      case 'Role':
        return emit(h, leaseRoles.has(o.metadata.name) ? this.leaseRole(h, o as Manifest & { rules: Rule[] }) : { ...o, metadata: this.meta(h, o.kind, o.metadata) }, doc.comment, leaseRoles.has(o.metadata.name) ? '.Values.leaderElection.enabled' : undefined);
      case 'RoleBinding':
      case 'ClusterRoleBinding': {
        const b = o as Binding;
        return emit(h, this.binding(h, b), doc.comment, leaseRoles.has(b.roleRef.name) ? '.Values.leaderElection.enabled' : undefined);
      }
      case 'Service':
        return emit(h, this.service(h, o as Service), doc.comment);
      default:
        return emit(h, { ...o, metadata: this.meta(h, o.kind, o.metadata) }, doc.comment);
    }
  }

  private file(path: string, docs: string[], prelude: string[] = []): string {
    return [header(path), ...prelude, ...docs, ''].join('\n');
  }

  templates(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const f of this.src.files) {
      const h = new Holes();
      const leaseRoles = this.leaseRoleNames(f);
      const prelude = f.docs.some((d) => d.object.kind === 'Deployment')
        ? ['{{- if and (not .Values.leaderElection.enabled) (gt (int .Values.replicas) 1) }}', '{{- fail "replicas > 1 needs leaderElection.enabled: only one operator may act at a time" }}', '{{- end }}']
        : [];
      out[`templates/${f.path.slice('deploy/'.length)}`] = this.file(f.path, f.docs.map((d) => this.operatorDoc(h, d, leaseRoles)), prelude);
    }
    out['templates/namespace.yaml'] = this.namespace();
    for (const f of this.src.crds) out[`templates/crds/${f.path.slice('crds/'.length)}`] = this.crd(f);
    for (const [name, f] of Object.entries(this.src.monitoring)) {
      const key = name === 'servicemonitor.yaml' ? 'serviceMonitor' : 'prometheusRule';
      const h = new Holes();
      const docs = f.docs.map((d) => {
        const o = d.object;
        const spec = o['spec'] as { namespaceSelector?: { matchNames?: string[] } } | undefined;
        // a selector naming deploy/'s namespace names the release's
        const matchNames = spec?.namespaceSelector?.matchNames?.map((n) => (n === this.src.namespace ? h.value('.Release.Namespace') : n));
        const body = { ...o, metadata: this.meta(h, o.kind, o.metadata, `.Values.monitoring.${key}.labels`), ...(matchNames ? { spec: { ...spec, namespaceSelector: { ...spec?.namespaceSelector, matchNames } } } : {}) };
        return emit(h, body, d.comment, `.Values.monitoring.${key}.enabled`);
      });
      out[`templates/monitoring/${name}`] = this.file(f.path, docs);
    }
    return out;
  }

  /**
   * Helm creates the release namespace (--create-namespace) without labels, and a chart cannot own the namespace
   * its release record lives in. A pre-install/pre-upgrade hook applies deploy/namespace.yaml's labels (Pod
   * Security restricted) to it instead: hooks are applied server-side (Helm 4's default), so an existing namespace
   * gains the labels; only a failed hook is deleted, and uninstall leaves the namespace as Helm habit does.
   */
  private namespace(): string {
    const h = new Holes();
    const [doc] = this.src.namespaceFile.docs;
    if (!doc) throw new Error('no Namespace');
    const { object: o, comment } = doc;
    const metadata = {
      ...this.meta(h, o.kind, o.metadata),
      annotations: { ...o.metadata.annotations, 'helm.sh/hook': 'pre-install,pre-upgrade', 'helm.sh/hook-weight': '-10', 'helm.sh/hook-delete-policy': 'hook-failed' },
    };
    return this.file(this.src.namespaceFile.path, [emit(h, { ...o, metadata }, comment, '.Values.namespace.applyLabels')]);
  }

  /** CRDs as templates (not crds/): upgraded with the chart, skipped with crds.install=false, kept on uninstall. */
  private crd(f: SourceFile): string {
    const h = new Holes();
    const docs = f.docs.map((d) => {
      const o = d.object;
      if (o.metadata.annotations) throw new Error(`${f.path}: annotations are not carried into the chart`);
      const annotations = h.block((_col, key) => ['{{- if .Values.crds.keep }}', `${key ?? ''}:`, '  helm.sh/resource-policy: keep', '{{- end }}']);
      return emit(h, { ...o, metadata: { ...this.meta(h, o.kind, o.metadata), annotations } }, undefined, '.Values.crds.install');
    });
    return this.file(f.path, docs);
  }
}

export const chartTemplates = (src: Sources): Record<string, string> => new Chart(src).templates();
