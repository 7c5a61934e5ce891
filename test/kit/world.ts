/**
 * An in-memory world for the whole member reconcile: fake ports (TeamMembers, Secrets, OpenRouter keys and
 * guardrails), a manual clock, the real KeyBook and GuardrailBook behind the real write-through ports
 * (controller/booked.ts), and the rest of MemberDeps as entry.ts builds them. No API server, no emulator process:
 * a pass takes about a millisecond.
 *
 * Every fake records what it was asked, so a test can assert the calls and writes a pass made, and has knobs for
 * the failures the operator must survive (a refused Secret or status, a lost or refused create, a 429, a
 * conflict, a crash at any write). Key strings are made deterministically and are never printed.
 */
import { createHash, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import pino from 'pino';
import { offboardee } from '../../src/api/objects.ts';
import type { ResolvedPolicy } from '../../src/api/policy.ts';
import { ANNOTATION_KEY_HASH, ANNOTATION_KEY_HMAC, FINALIZER, TeamMemberSpec, memberSecretName, type RotationTrigger, type TeamMember } from '../../src/api/schema.ts';
import { BookedGuardrails, BookedKeys } from '../../src/controller/booked.ts';
import { GuardrailBook } from '../../src/controller/guardrailbook.ts';
import { KeyBook } from '../../src/controller/keybook.ts';
import { RELEASED_PREFIX, parseKeyName } from '../../src/controller/keyname.ts';
import type { EventSink, MemberDeps, Result } from '../../src/controller/member/deps.ts';
import { claim, finalizeMember } from '../../src/controller/member/finalize.ts';
import { reconcileMember } from '../../src/controller/member/reconcile.ts';
import { keyHmac } from '../../src/controller/member/secret.ts';
import { guardrailFor } from '../../src/controller/policy/guardrail.ts';
import { guardrailName } from '../../src/controller/policy/rules.ts';
import type { Guardrail, GuardrailPort, GuardrailRules } from '../../src/domain/guardrail.ts';
import type { Key, KeyChange, KeyPort, NewKey, Spend } from '../../src/domain/key.ts';
import type { SecretObject } from '../../src/domain/secret.ts';
import { MemoryMembers } from '../../src/memory/members.ts';
import { MemorySecrets } from '../../src/memory/secrets.ts';
import { KubeError } from '../../src/kube/errors.ts';
import type { KindedWorkload } from '../../src/kube/cluster.ts';
import { OpenRouterError, kindOfStatus } from '../../src/openrouter/errors.ts';
import type { Clock } from '../../src/util/clock.ts';
import { errorMessage } from '../../src/util/errors.ts';
import { windowStart } from '../../src/util/windows.ts';
import type { MemberSpec } from './objects.ts';
import { resolved } from './resolved.ts';

/** A Tuesday in the middle of a month: hours and days can pass without a window turning. */
export const T0 = Date.parse('2026-03-10T09:00:00Z');
export const SECOND = 1_000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

const clone = <T>(v: T): T => structuredClone(v);

// --- the clock ------------------------------------------------------------------------------------------------

export class ManualClock implements Clock {
  private at: number;
  constructor(at = T0) {
    this.at = at;
  }
  now(): number {
    return this.at;
  }
  set(at: number): void {
    this.at = at;
  }
  advance(ms: number): void {
    this.at += ms;
  }
  iso(): string {
    return new Date(this.at).toISOString();
  }
}

// --- faults: a crash at any write -------------------------------------------------------------------------------

/** The writes a member pass makes to the world, in the order it makes them. */
export type WriteStep = 'status' | 'finalizers' | 'secret' | 'secret-delete' | 'key-create' | 'key-update' | 'key-delete' | 'guardrail-assign' | 'guardrail-unassign';

/**
 * Writes cut short: before they landed, or after (their answer lost). By default the failure is the port's own
 * transport error (a cut connection); a test may name another (a conflict, say).
 */
export class Faults {
  /** every write that was tried, in order */
  readonly steps: WriteStep[] = [];
  private plans: { at?: number; step?: WriteStep; skip: number; landed: boolean; error?: Error | undefined }[] = [];

  /** The n-th write from now (1-based), whatever it is, fails: before it lands or after it landed. */
  failWrite(n: number, landed: boolean, error?: Error): void {
    this.plans.push({ at: this.steps.length + n, skip: 0, landed, error });
  }

  /** The next write of this kind (after `skip` of them went through) fails: before it lands or after it landed. */
  failNext(step: WriteStep, landed: boolean, error?: Error, skip = 0): void {
    this.plans.push({ step, skip, landed, error });
  }

  /** Some planned failure has not happened yet. */
  get armed(): boolean {
    return this.plans.length > 0;
  }

  disarm(): void {
    this.plans = [];
  }

  async around<T>(step: WriteStep, write: () => T | Promise<T>): Promise<T> {
    this.steps.push(step);
    let hit: (typeof this.plans)[number] | undefined;
    for (const p of this.plans) {
      const due = p.at === undefined ? p.step === step && p.skip-- === 0 : p.at === this.steps.length;
      if (due && !hit) hit = p;
      else if (due) p.skip = 0; // two plans for one write: the second fails the next one
    }
    if (hit) this.plans = this.plans.filter((p) => p !== hit);
    if (hit && !hit.landed) throw hit.error ?? cut(step);
    const out = await write();
    if (hit) throw hit.error ?? cut(step);
    return out;
  }
}

function cut(step: WriteStep): Error {
  return step.startsWith('key-') || step.startsWith('guardrail-')
    ? new OpenRouterError('network', step, 'the connection was cut')
    : new KubeError('unavailable', 503, `${step}: the connection was cut`);
}

// --- OpenRouter keys ------------------------------------------------------------------------------------------

/** One call the operator made to the keys API. */
export interface KeyCall {
  method: 'list' | 'get' | 'create' | 'update' | 'delete' | 'workspaceId';
  hash?: string | undefined;
  change?: KeyChange | undefined;
}

interface StoredKey {
  key: Omit<Key, 'usage' | 'byok' | 'limitRemainingUSD'>;
  /** the key string: only the create answer carries it */
  secret: string;
  spend: { at: number; usd: number; byok: boolean }[];
}

const ROUTES = { list: 'GET /keys', get: 'GET /keys/{hash}', create: 'POST /keys', update: 'PATCH /keys/{hash}', delete: 'DELETE /keys/{hash}', workspaceId: 'GET /workspaces/{id}' } as const;

const hex = (seed: string) => createHash('sha256').update(seed).digest('hex');

/** OpenRouter's masked preview of a key string. */
export function maskKey(secret: string): string {
  const body = secret.slice('sk-or-v1-'.length);
  return `sk-or-v1-${body.slice(0, 3)}...${body.slice(-3)}`;
}

/** OpenRouter's keys over a Map: deterministic key strings, spend set by the test, every call recorded. */
export class FakeKeys implements KeyPort {
  private readonly keys = new Map<string, StoredKey>();
  private n = 0;
  private readonly clock: Clock;
  private readonly faults: Faults;
  readonly calls: KeyCall[] = [];
  /** every spend, kept after its key is deleted */
  private readonly ledger: { hash: string; name: string; at: number; usd: number; over: number }[] = [];
  /** the next create stores the key, then answers a 502: the key exists, the operator never learns its string */
  loseNextCreate = false;
  /** the next create is refused with this status (4xx: nothing is created) */
  failNextCreate: number | undefined;
  /** every create is refused with this status until cleared (an account at its key limit, say) */
  failCreates: number | undefined;
  /** the next call of any kind fails with this status (429: rate limited) */
  failNextCall: number | undefined;

  constructor(clock: Clock, faults: Faults) {
    this.clock = clock;
    this.faults = faults;
  }

  // what the test sees and does at OpenRouter (the dashboard)

  /** A key as the operator would read it (undefined: no such key). */
  key(hash: string): Key | undefined {
    const s = this.keys.get(hash);
    return s && this.view(s);
  }

  /** The key string of a key (what only its Secret should hold). */
  secretOf(hash: string): string | undefined {
    return this.keys.get(hash)?.secret;
  }

  all(): Key[] {
    return [...this.keys.values()].map((s) => this.view(s));
  }

  /** The hash of the key with this string (undefined: none, or deleted). */
  hashOf(secret: string): string | undefined {
    return [...this.keys.values()].find((s) => s.secret === secret)?.key.hash;
  }

  /** Every key string ever made, for leak checks. */
  secrets(): string[] {
    return Array.from({ length: this.n }, (_, i) => secretString(i + 1));
  }

  /** Keys whose name says they belong to this member (a released key's name too). */
  ofMember(uid: string): Key[] {
    return this.all().filter((k) => parseKeyName(k.name.startsWith(RELEASED_PREFIX) ? k.name.slice(RELEASED_PREFIX.length) : k.name)?.uid === uid);
  }

  /** Requests were made with the key: `usd` counts in every window containing now. */
  spend(hash: string, usd: number, byok = false, over = 0): void {
    const at = this.clock.now();
    this.stored(hash).spend.push({ at, usd, byok });
    this.ledger.push({ hash, name: this.stored(hash).key.name, at, usd, over });
  }

  /**
   * A request made with the key, as OpenRouter serves it: refused when the key is gone, disabled, expired or its
   * window is spent (so spend exceeds a limit by at most one request). Returns whether it was served.
   */
  request(hash: string, usd: number): boolean {
    const k = this.key(hash);
    if (!k || k.disabled || (k.expiresAt !== undefined && Date.parse(k.expiresAt) <= this.clock.now())) return false;
    if (k.limitRemainingUSD !== undefined && k.limitRemainingUSD <= 0) return false;
    this.spend(hash, usd, false, k.limitRemainingUSD === undefined ? 0 : Math.max(0, usd - k.limitRemainingUSD));
    return true;
  }

  /** How far requests of this member's keys went past their keys' limits since `from` (one request each, at most). */
  overBy(uid: string, from: number): number {
    return this.ledger.filter((x) => x.at >= from && parseKeyName(x.name.replace(RELEASED_PREFIX, ''))?.uid === uid).reduce((t, x) => t + x.over, 0);
  }

  /** What every key ever named for this member (deleted ones too) spent since `from`, but the keys in `except`. */
  spentBy(uid: string, from: number, except: ReadonlySet<string> = new Set()): number {
    return this.ledger.filter((x) => x.at >= from && !except.has(x.hash) && parseKeyName(x.name.replace(RELEASED_PREFIX, ''))?.uid === uid).reduce((t, x) => t + x.usd, 0);
  }

  /** An admin changes the key in the dashboard. */
  changeOutside(hash: string, change: Partial<Pick<Key, 'disabled' | 'limitUSD' | 'name'>>): void {
    const s = this.stored(hash);
    s.key = { ...s.key, ...change };
  }

  deleteOutside(hash: string): void {
    this.keys.delete(hash);
  }

  /** Forgets the calls recorded so far. */
  resetCalls(): void {
    this.calls.length = 0;
  }

  // the port

  async *list(opts?: { workspaceId?: string | undefined }): AsyncIterable<Key> {
    this.call({ method: 'list' });
    for (const s of [...this.keys.values()].toReversed()) {
      if (opts?.workspaceId === undefined || s.key.workspaceId === opts.workspaceId) yield this.view(s);
    }
  }

  async get(hash: string): Promise<Key> {
    this.call({ method: 'get', hash });
    return this.view(this.found('get', hash));
  }

  async create(spec: NewKey): Promise<{ key: Key; secret: string }> {
    this.call({ method: 'create' });
    return this.faults.around('key-create', () => {
      const refused = this.failNextCreate ?? this.failCreates;
      if (refused !== undefined) {
        this.failNextCreate = undefined;
        throw new OpenRouterError(kindOfStatus(refused), ROUTES.create, `refused (${refused})`, refused, refused === 429 ? SECOND : undefined);
      }
      if (!spec.name) throw new OpenRouterError('badRequest', ROUTES.create, 'name must not be empty', 400);
      if (spec.expiresAt !== undefined && Date.parse(spec.expiresAt) <= this.clock.now()) throw new OpenRouterError('badRequest', ROUTES.create, 'expires_at must be in the future', 400);
      const n = ++this.n;
      const secret = secretString(n);
      const hash = hex(`hash-${n}`);
      const stored: StoredKey = {
        key: {
          hash, name: spec.name, label: maskKey(secret), disabled: false, limitUSD: spec.limitUSD, reset: spec.reset, includeByok: spec.includeByok,
          createdAt: new Date(this.clock.now()).toISOString(), expiresAt: spec.expiresAt, workspaceId: spec.workspaceId,
        },
        secret,
        spend: [],
      };
      this.keys.set(hash, stored);
      if (this.loseNextCreate) {
        this.loseNextCreate = false;
        throw new OpenRouterError('server', ROUTES.create, 'Bad Gateway', 502);
      }
      return { key: this.view(stored), secret };
    });
  }

  async update(hash: string, change: KeyChange): Promise<Key> {
    this.call({ method: 'update', hash, change });
    return this.faults.around('key-update', () => {
      const s = this.found('update', hash);
      const { limitUSD, ...rest } = change;
      s.key = { ...s.key, ...rest, ...(limitUSD === undefined ? {} : { limitUSD: limitUSD ?? undefined }) };
      return this.view(s);
    });
  }

  /** A key already gone counts as deleted (as the real client does). */
  async delete(hash: string): Promise<void> {
    this.call({ method: 'delete', hash });
    await this.faults.around('key-delete', () => {
      this.keys.delete(hash);
    });
  }

  async workspaceId(idOrSlug: string): Promise<string> {
    this.call({ method: 'workspaceId' });
    return idOrSlug;
  }

  private call(c: KeyCall): void {
    this.calls.push(c);
    if (this.failNextCall === undefined) return;
    const status = this.failNextCall;
    this.failNextCall = undefined;
    throw new OpenRouterError(kindOfStatus(status), ROUTES[c.method], `failed (${status})`, status, status === 429 ? SECOND : undefined);
  }

  private found(method: 'get' | 'update', hash: string): StoredKey {
    const s = this.keys.get(hash);
    if (!s) throw new OpenRouterError('notFound', ROUTES[method], 'Resource not found', 404);
    return s;
  }

  private stored(hash: string): StoredKey {
    const s = this.keys.get(hash);
    if (!s) throw new Error(`no key ${hash.slice(0, 8)}`);
    return s;
  }

  /** The key as OpenRouter answers now: spend per UTC window containing now, what is left of the limit. */
  private view(s: StoredKey): Key {
    const now = this.clock.now();
    const sum = (byok: boolean): Spend => {
      const of = (from: number) => s.spend.filter((x) => x.byok === byok && x.at >= from && x.at <= now).reduce((t, x) => t + x.usd, 0);
      return { daily: of(windowStart('daily', now)), weekly: of(windowStart('weekly', now)), monthly: of(windowStart('monthly', now)), total: of(Number.NEGATIVE_INFINITY) };
    };
    const usage = sum(false);
    const byok = sum(true);
    const k = s.key;
    const spent = (w: Spend) => (k.reset === 'never' ? w.total : w[k.reset]);
    const remaining = k.limitUSD === undefined ? undefined : Math.max(0, k.limitUSD - spent(usage) - (k.includeByok ? spent(byok) : 0));
    return { ...k, usage, byok, limitRemainingUSD: remaining };
  }
}

function secretString(n: number): string {
  return `sk-or-v1-${hex(`secret-${n}`)}`;
}

// --- guardrails -----------------------------------------------------------------------------------------------

/** OpenRouter's guardrails, minimal: they exist, keys are assigned and unassigned. */
export class FakeGuardrails implements GuardrailPort {
  readonly guardrails = new Map<string, Guardrail>();
  /** key hash → guardrail id */
  readonly assigned = new Map<string, string>();
  readonly calls: string[] = [];
  private n = 0;
  private readonly faults: Faults;

  constructor(faults: Faults) {
    this.faults = faults;
  }

  async *list(): AsyncIterable<Guardrail> {
    yield* [...this.guardrails.values()].map(clone);
  }

  async *assignedKeys(id: string): AsyncIterable<string> {
    for (const [h, g] of this.assigned) if (g === id) yield h;
  }

  async get(id: string): Promise<Guardrail> {
    const g = this.guardrails.get(id);
    if (!g) throw new OpenRouterError('notFound', 'GET /guardrails/{id}', 'Resource not found', 404);
    return clone(g);
  }

  async create(name: string, _description: string, workspaceId: string | undefined, rules: GuardrailRules): Promise<Guardrail> {
    this.calls.push(`create ${name}`);
    const g: Guardrail = { id: `gr-${++this.n}`, name, workspaceId, ...rules };
    this.guardrails.set(g.id, g);
    return clone(g);
  }

  async update(id: string, rules: GuardrailRules): Promise<Guardrail> {
    this.calls.push(`update ${id}`);
    const g = { ...(await this.get(id)), ...rules };
    this.guardrails.set(id, g);
    return clone(g);
  }

  async delete(id: string): Promise<void> {
    this.calls.push(`delete ${id}`);
    this.guardrails.delete(id);
  }

  async assign(id: string, hashes: readonly string[]): Promise<number> {
    this.calls.push(`assign ${id}`);
    return this.faults.around('guardrail-assign', () => {
      if (!this.guardrails.has(id)) throw new OpenRouterError('notFound', 'POST /guardrails/{id}/assignments/keys', 'Resource not found', 404);
      for (const h of hashes) this.assigned.set(h, id);
      return hashes.length;
    });
  }

  async unassign(id: string, hashes: readonly string[]): Promise<number> {
    this.calls.push(`unassign ${id}`);
    return this.faults.around('guardrail-unassign', () => {
      let n = 0;
      for (const h of hashes) {
        if (this.assigned.get(h) !== id) continue;
        this.assigned.delete(h);
        n++;
      }
      return n;
    });
  }
}

// --- the world ------------------------------------------------------------------------------------------------

export interface RecordedEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
  /** kind/namespace/name of the object it is about */
  about: string;
}

/** How settle() ended: the last pass's result, how many passes it took, what the failed ones threw. */
export interface Settled {
  result: Result;
  passes: number;
  errors: unknown[];
}

const NS = 'team';
/** A requeue at most this far away is followed by settle() at once (a retry soon, not a scheduled wake-up). */
const SOON_MS = 5 * SECOND;
/** How long entry.ts waits while OpenRouter refuses the management key. */
const CREDENTIALS_WAIT_MS = 30 * SECOND;
/** What settle() lets pass after a failed pass or a retry (the queue's backoff). */
const BACKOFF_MS = 5 * SECOND;

export class World {
  readonly clock = new ManualClock();
  readonly faults = new Faults();
  // the in-memory adapters, every write cut short on demand
  readonly members = new MemoryMembers((step, write) => this.faults.around(step, write));
  readonly secrets = new MemorySecrets((step, write) => this.faults.around(step, write));
  readonly keys = new FakeKeys(this.clock, this.faults);
  readonly guardrails = new FakeGuardrails(this.faults);
  readonly events: RecordedEvent[] = [];
  readonly policies = new Map<string, ResolvedPolicy>();
  readonly observed = { rotated: [] as RotationTrigger[], overlapEnded: [] as string[] };
  /** the operator's HMAC key: it survives restarts, as its Secret does (unless a restart is told it was lost) */
  hmacKey: KeyObject = createSecretKey(randomBytes(32));
  readonly clusterId = 'test';
  /** how much time passes before each pass and each sync (reconciles take time, and the book compares instants) */
  tickMs = SECOND;
  /** knobs */
  credentialsValid = true;
  namespaceTerminating = false;
  /** opted-in workloads using every member's Secret, and how many Argo Rollouts do */
  workloads: KindedWorkload[] = [];
  rollouts = 0;
  book!: KeyBook;
  guardrailBook!: GuardrailBook;
  deps!: MemberDeps;

  constructor() {
    this.restart();
  }

  /**
   * A fresh operator process: empty books, deps built again; the world outside stays, and so does the HMAC key
   * unless `loseHmacKey` (a reinstall that lost its Secret).
   */
  restart(opts: { loseHmacKey?: boolean } = {}): void {
    if (opts.loseHmacKey) this.hmacKey = createSecretKey(randomBytes(32));
    this.book = new KeyBook(this.clock);
    this.guardrailBook = new GuardrailBook();
    this.deps = this.memberDeps();
  }

  private memberDeps(): MemberDeps {
    const book = this.book;
    const guardrailBook = this.guardrailBook;
    const events: EventSink = {
      normal: async (obj, reason, message) => this.record('Normal', obj, reason, message),
      warn: async (obj, reason, message) => this.record('Warning', obj, reason, message),
    };
    return {
      members: this.members,
      secrets: this.secrets,
      events,
      keys: new BookedKeys(this.keys, book),
      guardrails: new BookedGuardrails(this.guardrails, guardrailBook),
      book,
      guardrailBook,
      guardrailFor: (p) => guardrailFor(guardrailBook, this.clusterId, p),
      usage: () => undefined,
      policy: (name) => this.policies.get(name),
      namespaceLabels: () => ({}),
      namespaceTerminating: () => this.namespaceTerminating,
      workloadsUsing: () => this.workloads,
      rolloutsUsing: () => this.rollouts,
      credentialsValid: () => this.credentialsValid,
      workspaceId: async () => undefined,
      refreshBook: () => book.refresh(this.keys, [undefined]),
      rotationSlot: () => true,
      clock: this.clock,
      log: pino({ level: 'silent' }),
      clusterId: this.clusterId,
      baseUrl: 'https://openrouter.test/api/v1',
      hmacKey: this.hmacKey,
      observe: {
        rotated: (trigger) => {
          this.observed.rotated.push(trigger);
        },
        overlapEnded: (ended) => {
          this.observed.overlapEnded.push(ended);
        },
      },
    };
  }

  private record(type: RecordedEvent['type'], obj: Parameters<EventSink['normal']>[0], reason: string, message: string): void {
    this.events.push({ type, reason, message, about: `${obj.kind}/${obj.metadata.namespace ?? ''}/${obj.metadata.name}` });
  }

  // policies

  /** Creates or replaces a KeyPolicy (as read by the operator: resolved). */
  policy(name: string, spec: Record<string, unknown> = {}): ResolvedPolicy {
    const p = resolved(spec, name);
    this.policies.set(name, p);
    return p;
  }

  removePolicy(name: string): void {
    this.policies.delete(name);
  }

  /** The policy's guardrail exists (the policy reconcile made it): OpenRouter has it and the book knows it. */
  guardrailFor(policy: string): Guardrail {
    const g: Guardrail = { id: `gr-${policy}`, name: guardrailName(this.clusterId, policy), workspaceId: undefined, zeroDataRetention: false };
    this.guardrails.guardrails.set(g.id, g);
    this.guardrailBook.put(g);
    return g;
  }

  // members

  /** A TeamMember `team/<name>`, already carrying the operator's finalizer (the entry claims it). */
  member(name: string, spec: MemberSpec | string, annotations: Record<string, string> = {}): TeamMember {
    return this.members.put({
      apiVersion: 'teamkeys.dev/v1alpha1', kind: 'TeamMember',
      metadata: { name, namespace: NS, uid: `uid-${name}`, finalizers: [FINALIZER], annotations, creationTimestamp: this.clock.iso() },
      spec: TeamMemberSpec.parse(typeof spec === 'string' ? { policy: spec } : spec),
    });
  }

  /** A TeamMember as a user applies it: without the finalizer, which the first pass claims. */
  applied(name: string, spec: MemberSpec | string): TeamMember {
    const m = this.member(name, spec);
    return this.members.put({ ...m, metadata: { ...m.metadata, finalizers: [] } });
  }

  /** The member as the API server holds it now. */
  get(name: string): TeamMember {
    const m = this.members.get(NS, name);
    if (!m) throw new Error(`no member ${name}`);
    return m;
  }

  /** A user edits the member's spec (generation moves). */
  editSpec(name: string, change: Partial<MemberSpec>): TeamMember {
    const m = this.get(name);
    return this.members.put({ ...m, spec: TeamMemberSpec.parse({ ...m.spec, ...change }) });
  }

  annotate(name: string, key: string, value: string): TeamMember {
    const m = this.get(name);
    return this.members.put({ ...m, metadata: { ...m.metadata, annotations: { ...m.metadata.annotations, [key]: value } } });
  }

  /** kubectl delete: the API server sets deletionTimestamp and waits for the finalizers. */
  deleteMember(name: string): TeamMember {
    const m = this.get(name);
    return this.members.put({ ...m, metadata: { ...m.metadata, deletionTimestamp: this.clock.iso() } });
  }

  /** The member's Secret as the API server holds it. */
  secretOf(name: string): SecretObject | undefined {
    const m = this.members.get(NS, name);
    return this.secrets.get(NS, memberSecretName(name, m?.spec.secretName));
  }

  /** The member's current key (status.key) as OpenRouter holds it. */
  keyOf(name: string): Key | undefined {
    const hash = this.get(name).status?.key?.hash;
    return hash === undefined ? undefined : this.keys.key(hash);
  }

  /** Every key at OpenRouter named for this member. */
  keysOf(name: string): Key[] {
    return this.keys.ofMember(`uid-${name}`);
  }

  /** The Ready condition's status and reason. */
  ready(name: string): { status: string; reason: string } | undefined {
    const c = this.members.get(NS, name)?.status?.conditions?.find((x) => x.type === 'Ready');
    return c && { status: c.status, reason: c.reason };
  }

  eventReasons(name?: string): string[] {
    return this.events.filter((e) => name === undefined || e.about.endsWith(`/${name}`)).map((e) => e.reason);
  }

  /** Any key string found in an Event, a member's status or a log line the world saw (none, ever). */
  leaks(): string[] {
    const text = JSON.stringify([this.events, this.members.all().map((m) => m.status)]);
    return this.keys.secrets().filter((s) => text.includes(s) || text.includes(s.slice('sk-or-v1-'.length)));
  }

  // time and the operator

  later(ms: number): void {
    this.clock.advance(ms);
  }

  /** The periodic key sync: every key listed into the book. */
  async sync(): Promise<void> {
    this.clock.advance(this.tickMs);
    await this.book.refresh(this.keys, [undefined]);
  }

  /**
   * One reconcile of the member, as the operator's entry (member/entry.ts) runs it: offboarding for a member being
   * deleted; nothing while the credentials are invalid; a first key listing if there was none yet; the claim (the
   * finalizer, already there) and the member reconcile.
   */
  async pass(name: string): Promise<Result> {
    this.clock.advance(this.tickMs);
    const m = this.members.get(NS, name);
    if (!m) return {};
    if (m.metadata.deletionTimestamp) return this.finalize(name);
    if (!this.credentialsValid) return { requeueAfterMs: CREDENTIALS_WAIT_MS };
    if (this.book.refreshedFrom === undefined) await this.book.refresh(this.keys, [undefined]);
    const claimed = await claim(m, this.deps);
    return reconcileMember(claimed.member, this.deps, claimed.fresh);
  }

  /** Offboards a member being deleted (finalize.ts). */
  async finalize(name: string): Promise<Result> {
    const view = offboardee(this.get(name));
    if (!view) throw new Error(`cannot read ${name} for offboarding`);
    return finalizeMember(view, this.deps);
  }

  /**
   * Passes as the operator's queue would run them until the member is quiet: a failed pass or a retry is run again
   * after a backoff, a requeue due soon after its delay, and a pass that wrote the status once more (the write's
   * watch event enqueues the member again). Ends with the first pass that asks for none of these.
   */
  async settle(name: string, max = 12): Promise<Settled> {
    const errors: unknown[] = [];
    for (let i = 1; i <= max; i++) {
      const wrote = this.members.statusWrites;
      let r: Result;
      try {
        r = await this.pass(name);
      } catch (e) {
        errors.push(e);
        this.clock.advance(BACKOFF_MS);
        continue;
      }
      if (r.retry) {
        this.clock.advance(BACKOFF_MS);
        continue;
      }
      if (r.requeueAfterMs !== undefined && r.requeueAfterMs <= SOON_MS) {
        this.clock.advance(r.requeueAfterMs);
        continue;
      }
      if (this.members.statusWrites !== wrote && this.members.get(NS, name)) continue;
      return { result: r, passes: i, errors };
    }
    throw new Error(`${name} did not settle in ${max} passes; errors: ${errors.map(errorMessage).join(' | ')}`);
  }

  /**
   * What is wrong with a member that should be served, as sentences (none: all is well): Ready=True KeyReady, no
   * create in flight, its key exists and is enabled, its Secret holds exactly that key (string, hash, HMAC), no
   * other working key of it exists but the previous keys still draining, the working keys' limits plus what
   * replaced keys spent stay within its limit, and no key string is anywhere but in the Secret.
   */
  servedProblems(name: string): string[] {
    const out: string[] = [];
    const m = this.get(name);
    const s = m.status ?? {};
    const ready = this.ready(name);
    if (ready?.status !== 'True' || ready.reason !== 'KeyReady') out.push(`Ready is ${ready?.status ?? 'absent'} ${ready?.reason ?? ''}`);
    if (s.pendingKey) out.push(`a create is still in flight (${s.pendingKey.name})`);
    const ref = s.key;
    const key = ref && this.keys.key(ref.hash);
    if (!ref || !key) return [...out, ref ? 'status.key names a key OpenRouter does not have' : 'no status.key'];
    if (key.disabled) out.push('the key is disabled');
    const policy = this.policies.get(m.spec.policy);
    const secret = this.secretOf(name);
    const dataKey = policy?.secretKeys.apiKey ?? 'OPENROUTER_API_KEY';
    const string = this.keys.secretOf(key.hash) ?? '';
    if (!secret) out.push('no Secret');
    else {
      if (secret.annotations[ANNOTATION_KEY_HASH] !== key.hash) out.push('the Secret names another key hash');
      if (secret.data[dataKey] !== string) out.push(`the Secret's ${dataKey} is not the key's string`);
      if (secret.annotations[ANNOTATION_KEY_HMAC] !== keyHmac(this.hmacKey, string)) out.push("the Secret's HMAC does not match its key");
      if (!secret.ownerReferences.some((r) => r.uid === m.metadata.uid && r.controller === true)) out.push('the Secret is not owned by the member');
    }
    const draining = new Set((s.previousKeys ?? []).filter((p) => p.state === 'Draining').map((p) => p.hash));
    const stray = this.keysOf(name).filter((k) => !k.disabled && k.hash !== key.hash && !draining.has(k.hash));
    if (stray.length > 0) out.push(`${stray.length} other working key(s) at OpenRouter`);
    // the working keys' limits plus what the member's other keys (replaced, retired, deleted) spent in the window
    // stay within its limit, or within what was spent once that is more. A request a key served past its own limit
    // (one at most, as at OpenRouter) is not counted against the operator.
    const limit = s.budget?.limitUSD;
    if (limit !== undefined) {
      const reset = s.budget?.reset ?? 'monthly';
      const from = reset === 'never' ? Number.NEGATIVE_INFINITY : windowStart(reset, this.clock.now());
      const working = this.keysOf(name).filter((k) => !k.disabled && (k.expiresAt === undefined || Date.parse(k.expiresAt) > this.clock.now()));
      const gone = this.keys.spentBy(m.metadata.uid, from, new Set(working.map((k) => k.hash)));
      const allotted = working.reduce((t, k) => t + (k.limitUSD ?? Infinity), 0) + gone;
      const bound = Math.max(limit, this.keys.spentBy(m.metadata.uid, from)) + this.keys.overBy(m.metadata.uid, from);
      // (to a hundredth of a cent: status shows money rounded)
      if (allotted > bound + 1e-4) out.push(`the working keys' limits (${working.map((k) => k.limitUSD).join(' + ')}) and ${gone} spent by other keys come to ${allotted}, above the member's limit of ${limit}`);
    }
    const leaks = this.leaks();
    if (leaks.length > 0) out.push(`${leaks.length} key string(s) leaked into Events or status`);
    return out;
  }

  /** Counts of everything written so far, to compare before and after a pass. */
  writes(): { status: number; secrets: number; dryRuns: number; keyCalls: number; events: number } {
    return { status: this.members.writes, secrets: this.secrets.writes + this.secrets.deletes, dryRuns: this.secrets.dryRuns, keyCalls: this.keys.calls.length, events: this.events.length };
  }

  /** GETs of members and Secrets (a pass confirming its view from the API server). */
  reads(): number {
    return this.members.reads + this.secrets.reads;
  }
}
