/** The chart's sources, read as kustomize reads them: deploy/kustomization.yaml, its resources, and crds/. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isMap, isScalar, parse, parseAllDocuments } from 'yaml';

export interface Meta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: Meta;
  [field: string]: unknown;
}
/** One YAML document of a source file, with the comment written above it (the why, kept in the template). */
export interface SourceDoc {
  comment: string | undefined;
  object: Manifest;
}
export interface SourceFile {
  /** path under the repository, e.g. deploy/rbac.yaml */
  path: string;
  docs: SourceDoc[];
}

interface Kustomization {
  namespace?: string;
  labels?: { pairs: Record<string, string>; includeSelectors?: boolean }[];
  resources: string[];
  images?: { name: string; newName?: string; newTag?: string }[];
}

export interface Sources {
  /** the namespace kustomize puts everything in (the chart uses the release's) */
  namespace: string;
  /** the labels kustomize adds to every object's metadata */
  labels: Record<string, string>;
  image: { name: string; repository: string; tag: string };
  /** deploy/namespace.yaml: the Namespace alone */
  namespaceFile: SourceFile;
  /** the operator's objects, file by file, in kustomization order */
  files: SourceFile[];
  crds: SourceFile[];
  /** deploy/monitoring/<file> when present (another kustomization; optional in the chart) */
  monitoring: Record<string, SourceFile>;
  chart: { name: string; version: string; description: string };
}

export const MONITORING_FILES = ['servicemonitor.yaml', 'prometheusrule.yaml'] as const;

function readDocs(root: string, path: string): SourceFile {
  const docs = parseAllDocuments(readFileSync(join(root, path), 'utf8')).map((d) => {
    if (d.errors.length > 0) throw new Error(`${path}: ${d.errors[0]?.message ?? ''}`);
    // a comment above the first key belongs to the document, its top map or the first key, depending on blank lines
    const top = isMap(d.contents) ? d.contents.commentBefore ?? (isScalar(d.contents.items[0]?.key) ? d.contents.items[0].key.commentBefore : undefined) : undefined;
    return { comment: d.commentBefore ?? top ?? undefined, object: d.toJS() as Manifest };
  });
  return { path, docs: docs.filter((d) => d.object !== null) };
}

function readKustomization(root: string, dir: string): Kustomization {
  return parse(readFileSync(join(root, dir, 'kustomization.yaml'), 'utf8')) as Kustomization;
}

export function readSources(root: string): Sources {
  const k = readKustomization(root, 'deploy');
  if (k.labels?.some((l) => l.includeSelectors)) throw new Error('deploy/kustomization.yaml: selector labels are not carried into the chart');
  const image = k.images?.[0];
  if (!image?.newName || !image.newTag || (k.images?.length ?? 0) > 1) throw new Error('deploy/kustomization.yaml: expected one image with newName and newTag');
  const files: SourceFile[] = [];
  let namespaceFile: SourceFile | undefined;
  let crds: SourceFile[] = [];
  for (const r of k.resources) {
    if (r.startsWith('../')) {
      const dir = r.slice(3);
      if (dir !== 'crds') throw new Error(`deploy/kustomization.yaml: unexpected resource ${r}`);
      crds = readKustomization(root, dir).resources.map((f) => readDocs(root, `${dir}/${f}`));
      continue;
    }
    const file = readDocs(root, `deploy/${r}`);
    if (file.docs.some((d) => d.object.kind === 'Namespace')) {
      if (file.docs.length > 1) throw new Error(`deploy/${r}: the Namespace should be alone in its file`);
      namespaceFile = file;
      continue;
    }
    files.push(file);
  }
  if (!namespaceFile || crds.length === 0) throw new Error('deploy/kustomization.yaml: expected namespace.yaml and ../crds');
  const monitoring: Record<string, SourceFile> = {};
  for (const f of MONITORING_FILES) {
    if (existsSync(join(root, 'deploy/monitoring', f))) monitoring[f] = readDocs(root, `deploy/monitoring/${f}`);
  }
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string; version: string; description: string };
  return {
    namespace: k.namespace ?? namespaceFile.docs[0]?.object.metadata.name ?? '',
    labels: Object.assign({}, ...(k.labels ?? []).map((l) => l.pairs)) as Record<string, string>,
    image: { name: image.name, repository: image.newName, tag: image.newTag },
    namespaceFile,
    files,
    crds,
    monitoring,
    chart: { name: pkg.name, version: pkg.version, description: pkg.description },
  };
}
