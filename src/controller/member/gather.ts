/**
 * Gather: everything one member's pass decides from, read once into an immutable view. From the caches first;
 * a plan that would create or revoke is confirmed from a fresh view (the member, its Secret and, when older than
 * the key, the key list), since a lagging cache must not decide those alone. Keys are read here too when the book
 * cannot be trusted for them (confirmedKey, below): nothing later asks OpenRouter what the view already says.
 */
import { errorMessage } from '../../util/errors.ts';
import type { ResolvedPolicy } from '../../api/policy.ts';
import { ANNOTATION_KEY_HASH, ANNOTATION_KEY_HMAC, memberSecretName, type KeyPolicy, type TeamMember, type TeamMemberStatus } from '../../api/schema.ts';
import { WorkspacePending } from '../../domain/errors.ts';
import type { KindedWorkload } from '../../kube/cluster.ts';
import { isOpenRouter } from '../../openrouter/errors.ts';
import type { Key, KeyPort } from '../../domain/key.ts';
import type { SecretObject } from '../../domain/secret.ts';
import type { UsageRow } from '../../domain/usage.ts';
import { matchesSelector } from '../selector.ts';
import type { KeyBook } from '../keybook.ts';
import type { GuardrailFor, MemberDeps } from './deps.ts';
import { hmacMatches, isOwnedBy, storedApiKey } from './secret.ts';
import { impliedIntent, nextKeyName } from './plan.ts';

/** The member's Secret: ours (with what it holds), someone else's (only learned from a fresh read), or none. */
export type SecretView =
  | { kind: 'none' }
  | { kind: 'foreign' }
  | {
    kind: 'own';
    obj: SecretObject;
    /** the key hash it says it holds */
    keyHash: string | undefined;
    /** the key string holds the HMAC its annotation names */
    hmacOk: boolean;
    /** the key string it holds (never logged) */
    apiKey: string | undefined;
  };

export interface MemberView {
  member: TeamMember;
  status: TeamMemberStatus;
  id: string;
  ns: string;
  secretName: string;
  /** the pass's one instant */
  now: number;
  source: 'cache' | 'fresh';
  policy: ResolvedPolicy | undefined;
  /** the policy's namespaceSelector admits the member's namespace */
  allowed: boolean;
  /** the namespace is being deleted (its members are next) */
  terminating: boolean;
  secret: SecretView;
  /** the keys status names (current, previous) and those of an interrupted create, as OpenRouter last showed them */
  keys: ReadonlyMap<string, Key>;
  /** keys read from OpenRouter in this pass, not only listed: their spend and state are as of now (a 404: absent from keys) */
  readFresh: ReadonlySet<string>;
  /** keys carrying the name of an interrupted create (status.pendingKey, or the implied name of a first key) */
  candidates: readonly Key[];
  /** when the last complete key list began (undefined: none yet) */
  listedFrom: number | undefined;
  guardrail: GuardrailFor | undefined;
  /** the operator's guardrail the current key is on, if any */
  keyGuardrail: string | undefined;
  usage: { rows: readonly UsageRow[]; at: string } | undefined;
  workloads: readonly KindedWorkload[];
  /** opted-in Argo Rollouts that use the Secret */
  rollouts: number;
  /** where the policy wants keys now (its pool's workspace may not exist yet) */
  workspace: WorkspaceTarget;
  /** workspaces the policy's keys were moved out of (its status), by id */
  formerWorkspaces: ReadonlySet<string>;
}

/**
 * The workspace new keys go to: the default one, a known one, one the policy's pool is still creating, or one that
 * cannot be resolved now (then only new keys wait: suspension, expiry and limits still apply).
 */
export type WorkspaceTarget = { kind: 'default' } | { kind: 'ready'; id: string } | { kind: 'pending'; ref: string; why: string };

/**
 * The view from the caches (and the few key reads the book cannot answer). `current`: the member was just
 * written with its cached resourceVersion as a guard, so its status is the stored one. Its Secret is still the
 * cached one: a Secret the cache has not shown yet makes the write that creates one fail (a conflict), never
 * overwrites it.
 */
export async function gather(member: TeamMember, d: MemberDeps, current = false): Promise<MemberView> {
  const ns = member.metadata.namespace ?? '';
  const secretName = memberSecretName(member.metadata.name, member.spec.secretName);
  const cached = d.secrets.cached(ns, secretName);
  const secret = cached && isOwnedBy(cached, member) ? cached : undefined;
  return view(member, secret ? 'own' : 'none', secret, current ? 'fresh' : 'cache', new Set(), d);
}

/** The view again from the API server and, when the listing is older than the key, a fresh listing. Undefined: the member is gone. */
export async function gatherFresh(was: MemberView, d: MemberDeps): Promise<MemberView | undefined> {
  const fresh = await d.members.read(was.ns, was.member.metadata.name);
  if (!fresh || fresh.metadata.deletionTimestamp) return undefined;
  // the spec as the pass began (a newer spec gets its own pass); status and version as they are now
  const member = { ...fresh, spec: was.member.spec };
  const s = await d.secrets.read(was.ns, was.secretName);
  const status = member.status ?? {};
  const key = status.key;
  const issued = key?.issuedAt ?? key?.createdAt;
  if (status.pendingKey || !d.book.freshSince(Date.parse(issued ?? '1970-01-01'))) await d.refreshBook();
  // a list can miss a key (offsets shift when keys are deleted mid-list): only a 404 proves it is gone
  const read = new Set(was.readFresh);
  if (key && !d.book.get(key.hash) && !d.book.isGone(key.hash) && !read.has(key.hash)) {
    await d.keys.get(key.hash).catch(ignoreNotFound);
    read.add(key.hash);
  }
  return view(member, !s ? 'none' : isOwnedBy(s, member) ? 'own' : 'foreign', s, 'fresh', read, d);
}

/** A 404 proves a key gone: undefined; any other failure ends the pass. */
export function ignoreNotFound(e: unknown): undefined {
  if (!isOpenRouter(e, 'notFound')) throw e;
  return undefined;
}

async function view(member: TeamMember, kind: SecretView['kind'], s: SecretObject | undefined, source: MemberView['source'], read: Set<string>, d: MemberDeps): Promise<MemberView> {
  const ns = member.metadata.namespace ?? '';
  const status = member.status ?? {};
  const policy = d.policy(member.spec.policy);
  const keys = await knownKeys(status, read, d);
  const secret = secretView(kind, s, policy, d);
  // a recorded intent, or the implied one of a first key (its deterministic name): what a crash may have left
  const pendingName = status.pendingKey?.name ?? (impliedIntent(status) ? nextKeyName(d.clusterId, member, status) : undefined);
  // a create of this process whose answer was lost: only a listing tells whether it made a key (after a restart,
  // the first listing does)
  if (pendingName && d.book.unsettled(pendingName)) await d.refreshBook();
  const candidates = pendingName ? await pendingCandidates(pendingName, status, secret, d) : [];
  const current = status.key;
  const secretName = memberSecretName(member.metadata.name, member.spec.secretName);
  return {
    member,
    status,
    id: `${ns}/${member.metadata.name}`,
    ns,
    secretName,
    now: d.clock.now(),
    source,
    policy,
    allowed: policy !== undefined && matchesSelector(policy.spec.namespaceSelector, d.namespaceLabels(ns)),
    terminating: d.namespaceTerminating(ns),
    secret,
    keys,
    readFresh: read,
    candidates,
    listedFrom: d.book.refreshedFrom,
    guardrail: policy && d.guardrailFor(policy.object),
    keyGuardrail: current && d.guardrailBook.guardrailOfKey(current.hash),
    usage: d.usage(member.metadata.uid),
    workloads: d.workloadsUsing(ns, secretName),
    rollouts: d.rolloutsUsing(ns, secretName),
    workspace: policy ? await workspaceTarget(policy.object, d) : { kind: 'default' },
    formerWorkspaces: new Set((policy?.object.status?.formerWorkspaces ?? []).map((w) => w.id)),
  };
}

async function workspaceTarget(policy: KeyPolicy, d: MemberDeps): Promise<WorkspaceTarget> {
  try {
    const id = await d.workspaceId(policy);
    return id === undefined ? { kind: 'default' } : { kind: 'ready', id };
  } catch (e) {
    if (e instanceof WorkspacePending) return { kind: 'pending', ref: e.ref, why: 'which the operator is still creating' };
    return { kind: 'pending', ref: policy.spec.workspace ?? '', why: `which cannot be resolved now (${errorMessage(e)})` };
  }
}

/**
 * The current and previous keys as the book shows them. A key the listing missed is read (confirmedKey): it is
 * judged, disabled and counted all the same. A key whose disabled flag disagrees with status is read fresh: the
 * listing may predate the operator's own PATCH, or OpenRouter's change may be newer than the listing, and a key
 * disabled outside is replaced as leaked.
 */
async function knownKeys(status: TeamMemberStatus, read: Set<string>, d: MemberDeps): Promise<Map<string, Key>> {
  const keys = new Map<string, Key>();
  // (a key read in this pass already is not read again: the book holds that answer)
  const reading = async (hash: string, disagrees: boolean): Promise<Key | undefined> => {
    if (read.has(hash)) return d.book.get(hash);
    if (!disagrees) return confirmedKey(d, hash, read);
    read.add(hash);
    return d.keys.get(hash).catch(ignoreNotFound);
  };
  const current = status.key;
  if (current) {
    const listed = d.book.get(current.hash);
    const k = await reading(current.hash, listed !== undefined && listed.disabled !== current.disabled);
    if (k) keys.set(k.hash, k);
  }
  for (const p of status.previousKeys ?? []) {
    // a draining key still spends (its reserve comes off the active key's limit): one the listing missed is read
    const k = p.state === 'Draining' ? await reading(p.hash, false) : d.book.get(p.hash);
    if (k) keys.set(k.hash, k);
  }
  return keys;
}

function secretView(kind: SecretView['kind'], s: SecretObject | undefined, policy: ResolvedPolicy | undefined, d: MemberDeps): SecretView {
  if (kind !== 'own' || !s) return kind === 'foreign' ? { kind } : { kind: 'none' };
  const apiKey = policy ? storedApiKey(s, policy, d.hmacKey) : undefined;
  return { kind, obj: s, keyHash: s.annotations[ANNOTATION_KEY_HASH], apiKey, hmacOk: apiKey !== undefined && hmacMatches(d.hmacKey, apiKey, s.annotations[ANNOTATION_KEY_HMAC]) };
}

/**
 * Keys named like the interrupted create. The key the Secret holds may be one the listing missed: it is read, or
 * the create that reached the Secret would be undone and the key it rotated away from revoked as if the Secret were lost.
 */
async function pendingCandidates(name: string, status: TeamMemberStatus, secret: SecretView, d: MemberDeps): Promise<Key[]> {
  const candidates = d.book.byName(name);
  const held = secret.kind === 'own' && secret.hmacOk ? secret.keyHash : undefined;
  if (held && held !== status.key?.hash && !candidates.some((k) => k.hash === held)) {
    const k = await confirmedKey(d, held);
    if (k?.name === name) candidates.push(k);
  }
  return candidates;
}

// --- keys the book cannot answer for ----------------------------------------------------------------------
// A key the book does not show is read before its absence is acted on. OpenRouter lists keys offset-paged and
// newest first: a key deleted by anyone between two page requests moves every later key forward, and the next page
// skips one that still exists. Only a 404 proves a key gone; any other failure throws, so nothing is done on a guess.

/**
 * The key as the book has it, else as one GET finds it (the port teaches the book either way: the key, or that
 * it is gone); undefined when it is gone.
 */
export async function confirmedKey(d: { book: KeyBook; keys: KeyPort }, hash: string, read?: Set<string>): Promise<Key | undefined> {
  const known = d.book.get(hash);
  // before a first listing nothing is known absent: no read per key while OpenRouter cannot even be listed; a key
  // it answered 404 for is not asked about at every pass (an idle pass stays quiet)
  if (known || d.book.refreshedFrom === undefined || d.book.isGone(hash)) return known;
  read?.add(hash);
  return d.keys.get(hash).catch(ignoreNotFound);
}
