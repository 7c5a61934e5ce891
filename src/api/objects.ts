/**
 * Objects as they come from the API server, checked at the edge: the envelope must be right, the spec is parsed
 * separately so an invalid one becomes a condition instead of an exception.
 */
import { z } from 'zod';
import { KeyPolicySpec, memberSecretName, KeyPolicyStatus, TeamMemberSpec, TeamMemberStatus, type KeyPolicy, type ObjectMeta, type TeamMember } from './schema.ts';

const Time = z.union([z.string(), z.date()]);

const Meta = z.looseObject({
  name: z.string(),
  namespace: z.string().optional(),
  uid: z.string(),
  generation: z.number().optional(),
  resourceVersion: z.string().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  finalizers: z.array(z.string()).optional(),
  deletionTimestamp: Time.optional(),
  creationTimestamp: Time.optional(),
});

const Envelope = z.looseObject({ apiVersion: z.string(), metadata: Meta, spec: z.unknown(), status: z.unknown().optional() });

export type Parsed<T> = { ok: true; value: T } | { ok: false; raw: z.infer<typeof Envelope> & { kind: string }; message: string } | undefined;

function parse<S extends z.ZodType, St extends z.ZodType>(kind: string, spec: S, status: St, o: unknown) {
  const env = Envelope.safeParse(o);
  if (!env.success) return undefined;
  const s = spec.safeParse(env.data.spec);
  if (!s.success) {
    const i = s.error.issues[0];
    return { ok: false as const, raw: { ...env.data, kind }, message: `spec.${i?.path.join('.') ?? ''}: ${i?.message ?? 'invalid'}` };
  }
  const st = status.safeParse(env.data.status ?? {});
  // an unreadable status must not read as "no key": that would issue a second one and orphan the first
  if (!st.success) return { ok: false as const, raw: { ...env.data, kind }, message: `status.${st.error.issues[0]?.path.join('.') ?? ''}: ${st.error.issues[0]?.message ?? 'invalid'}` };
  return { ok: true as const, value: { apiVersion: env.data.apiVersion, kind, metadata: env.data.metadata, spec: s.data, status: st.data } };
}

export function parseMember(o: unknown): Parsed<TeamMember> {
  const r = parse('TeamMember', TeamMemberSpec, TeamMemberStatus, o);
  return r?.ok ? { ok: true, value: { ...r.value, kind: 'TeamMember' } } : r;
}

export function parsePolicy(o: unknown): Parsed<KeyPolicy> {
  const r = parse('KeyPolicy', KeyPolicySpec, KeyPolicyStatus, o);
  return r?.ok ? { ok: true, value: { ...r.value, kind: 'KeyPolicy' } } : r;
}

/**
 * What offboarding needs of a member: who it is, which keys it holds, whether it asks to be suspended, and
 * which policy and Secret it names. Read field by field, so a member whose spec or status does not parse as a
 * whole (a CRD newer than this operator, a hand-edited status) is still deleted and suspended safely.
 */
export interface Offboardee {
  kind: 'TeamMember';
  metadata: ObjectMeta;
  policy: string | undefined;
  suspended: boolean;
  secretName: string;
  key: { hash: string; name: string | undefined; disabled: boolean | undefined } | undefined;
  pendingName: string | undefined;
  /** a first key created under no recorded intent carries this seq in its name (controller/member/plan.ts nextKeyName) */
  impliedSeq: number | undefined;
  /** keys rotated away from that may still exist (Draining or Disabled) */
  previous: { hash: string; name: string | undefined }[];
}

/**
 * The sequence number of the key a member's next create makes under its implied intent (its deterministic name,
 * controller/member/plan.ts nextKeyName): only while it holds no key and records no intent; undefined otherwise.
 */
export function impliedKeySeq(status: { key?: unknown; pendingKey?: unknown; keySeq?: number | undefined } | undefined): number | undefined {
  return status?.key === undefined && status?.pendingKey === undefined ? (status?.keySeq ?? 0) + 1 : undefined;
}

const lenient = <T extends z.ZodType>(t: T) => t.optional().catch(undefined);

const OffboardingView = z.looseObject({
  metadata: Meta,
  spec: lenient(z.looseObject({
    policy: lenient(z.string()),
    suspended: lenient(z.boolean()),
    secretName: lenient(z.string().min(1)),
  })),
  status: lenient(z.looseObject({
    key: lenient(z.looseObject({ hash: z.string(), name: lenient(z.string()), disabled: lenient(z.boolean()) })),
    pendingKey: lenient(z.looseObject({ name: z.string() })),
    keySeq: lenient(z.number().int().min(0)),
    previousKeys: lenient(z.array(z.looseObject({ hash: z.string(), name: lenient(z.string()), state: lenient(z.string()) }))),
  })),
});

export function offboardee(o: unknown): Offboardee | undefined {
  const r = OffboardingView.safeParse(o);
  if (!r.success) return undefined;
  const { metadata, spec, status } = r.data;
  const key = status?.key;
  return {
    kind: 'TeamMember',
    metadata,
    policy: spec?.policy,
    suspended: spec?.suspended === true,
    secretName: memberSecretName(metadata.name, spec?.secretName),
    key: key ? { hash: key.hash, name: key.name, disabled: key.disabled } : undefined,
    pendingName: status?.pendingKey?.name,
    impliedSeq: impliedKeySeq(status),
    previous: (status?.previousKeys ?? []).filter((p) => p.state !== 'Deleted').map((p) => ({ hash: p.hash, name: p.name })),
  };
}

/** What the orphan sweep needs of a member, read leniently: an unparseable member still owns its keys. */
export function ownerOf(o: unknown): { uid: string; keyHash: string | undefined; pendingName: string | undefined; impliedSeq: number | undefined; previous: string[] } | undefined {
  const v = offboardee(o);
  return v && { uid: v.metadata.uid, keyHash: v.key?.hash, pendingName: v.pendingName, impliedSeq: v.impliedSeq, previous: v.previous.map((p) => p.hash) };
}

const NamesPolicy = z.object({ spec: z.object({ policy: z.string() }) });

/** The policy name a member object refers to, even when the rest of its spec is invalid. */
export function policyNameOf(o: unknown): string | undefined {
  // (built once: a schema built per call costs zod a compile at every member event)
  const r = NamesPolicy.safeParse(o);
  return r.success ? r.data.spec.policy : undefined;
}
