/**
 * The KeyPolicy and TeamMember manifests every suite builds, written once: typed by the CRD's own schema (the spec
 * as a user writes it, defaults left to the API server), and as YAML for the suites that apply manifests the way a
 * user does (kubectl apply -f -). A test that means to send what the schema refuses writes its YAML by hand.
 */
import { stringify } from 'yaml';
import type { z } from 'zod';
import { API_VERSION, type KeyPolicySpec, type TeamMemberSpec } from '../../src/api/schema.ts';

/** A KeyPolicy's spec as written in a manifest: every field optional where the CRD defaults it. */
export type PolicySpec = z.input<typeof KeyPolicySpec>;
/** A TeamMember's spec as written in a manifest: the policy, and what the test sets beside it. */
export type MemberSpec = z.input<typeof TeamMemberSpec>;

interface Metadata {
  name: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface PolicyManifest {
  apiVersion: typeof API_VERSION;
  kind: 'KeyPolicy';
  metadata: Metadata;
  spec: PolicySpec;
}

export interface MemberManifest {
  apiVersion: typeof API_VERSION;
  kind: 'TeamMember';
  metadata: Metadata & { namespace: string };
  spec: MemberSpec;
}

export type Manifest = PolicyManifest | MemberManifest;

/** A KeyPolicy named `name`: an empty spec (every default) unless the test sets fields. */
export function aPolicy(name: string, spec: PolicySpec = {}): PolicyManifest {
  return { apiVersion: API_VERSION, kind: 'KeyPolicy', metadata: { name }, spec };
}

/** A TeamMember `namespace/name`; a string spec is the name of its policy and nothing else. */
export function aMember(namespace: string, name: string, spec: MemberSpec | string): MemberManifest {
  return { apiVersion: API_VERSION, kind: 'TeamMember', metadata: { name, namespace }, spec: typeof spec === 'string' ? { policy: spec } : spec };
}

/** `count` members `<prefix>0`, `<prefix>1`, ... in one namespace, on one policy. */
export function members(namespace: string, prefix: string, count: number, spec: MemberSpec | string): MemberManifest[] {
  return Array.from({ length: count }, (_, i) => aMember(namespace, `${prefix}${i}`, spec));
}

/**
 * The manifests as one YAML stream, as kubectl apply -f - reads it. Written as YAML 1.1, the dialect the API
 * machinery reads: a string that 1.1 would take for something else (a timestamp, yes/no) is quoted.
 */
export function toYaml(...manifests: readonly (Manifest | readonly Manifest[])[]): string {
  return manifests.flat().map((m) => stringify(m, { version: '1.1', lineWidth: 0 })).join('---\n');
}
