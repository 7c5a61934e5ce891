/**
 * Which queued member is this operator's to reconcile, and which reconcile it gets: skipped while our own write's
 * event is on its way, offboarded outside our namespaces only when positively ours, reconciled field by field when
 * its spec does not parse. Its MemberDeps are built once, when the operator knows its id and HMAC key.
 */
import { resolvePolicy } from '../../api/policy.ts';
import type { KeyObject } from 'node:crypto';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { offboardee, type Parsed } from '../../api/objects.ts';
import type { TeamMember } from '../../api/schema.ts';
import type { GuardrailPort } from '../../domain/guardrail.ts';
import type { KeyPort } from '../../domain/key.ts';
import type { Cluster } from '../../kube/cluster.ts';
import { KubeMembers } from '../../kube/members.ts';
import { KubeSecrets } from '../../kube/secrets.ts';
import type { Metrics } from '../../metrics/metrics.ts';
import { monotonicClock, type Clock } from '../../util/clock.ts';
import { errorMessage } from '../../util/errors.ts';
import { BookedGuardrails, BookedKeys } from '../booked.ts';
import type { Caches } from '../caches.ts';
import type { Credentials } from '../credentials.ts';
import type { Recorder } from '../events.ts';
import type { Result } from '../failure.ts';
import type { GuardrailBook } from '../guardrailbook.ts';
import { finalizes, recordedOperator } from '../identity.ts';
import type { KeyBook } from '../keybook.ts';
import { guardrailFor } from '../policy/guardrail.ts';
import type { WorkQueue } from '../queue.ts';
import { RotationSlots } from '../slots.ts';
import type { KeySync } from '../sync.ts';
import type { UsageBook } from '../usagebook.ts';
import { memberItemOf, type WorkItem } from '../workitem.ts';
import type { MemberDeps } from './deps.ts';
import { reconcileInvalid } from './invalid.ts';
import { holdPaused } from './paused.ts';
import { pausedBy } from '../pause.ts';
import { claim, finalizeMember } from './finalize.ts';
import { reconcileMember } from './reconcile.ts';
import { rotating } from './rotation.ts';

/** How soon a member waits for OpenRouter to accept the management key again. */
const CREDENTIALS_WAIT_MS = 30_000;

function unreadable(m: TeamMember): never {
  throw new Error(`cannot read ${m.metadata.namespace ?? ''}/${m.metadata.name} for offboarding`);
}

/** How long after a rotation ends the members waiting for a slot look again (the cache catches up meanwhile). */
const SLOT_WAKE_MS = 2_000;

/** What the operator hands the member entry. */
export interface MemberWiring {
  cluster: Cluster;
  keys: KeyPort;
  book: KeyBook;
  guardrails: GuardrailPort;
  guardrailBook: GuardrailBook;
  usageBook: UsageBook;
  caches: Caches;
  keySync: KeySync;
  credentials: Pick<Credentials, 'valid'>;
  /** --max-concurrent-rotations */
  maxConcurrentRotations: number;
  queue: WorkQueue<WorkItem>;
  metrics: Pick<Metrics, 'rotations' | 'rotationEnds' | 'rotationDuration'>;
  recorder: Recorder;
  clock: Clock;
  log: Logger;
  /** this operator's id (controller/identity.ts) */
  clusterId: string;
  /** the OpenRouter URL written into members' Secrets */
  baseUrl: string;
  hmacKey: KeyObject;
}

/** Members whose cached status shows a rotation, by id (RotationSlots counts them in flight). */
function rotatingMembers(caches: Caches): ReadonlySet<string> {
  return new Set(caches.allMembers().filter((m) => m.status && rotating(m.status)).map((m) => `${m.metadata.namespace ?? ''}/${m.metadata.name}`));
}

export class MemberEntry {
  private readonly w: MemberWiring;
  /** shared by every reconcile: everything in it is either fixed once started or read through a closure */
  private readonly deps: MemberDeps;

  constructor(w: MemberWiring) {
    this.w = w;
    this.deps = memberDeps(w, new RotationSlots(w.maxConcurrentRotations, monotonicClock, () => rotatingMembers(w.caches)));
  }

  async reconcile(ns: string, name: string): Promise<Result> {
    const { caches, cluster, book, credentials } = this.w;
    const cached = caches.members.get(name, ns);
    if (!cached) return {};
    // our own write's watch event is on its way and enqueues the member again
    if (cluster.behindOwnWrite(ns, name, cached.metadata?.resourceVersion)) return {};
    const m = caches.member(cached);
    if (!m) return {};
    // a member this operator offboards is still offboarded by it after its namespace left the selector; "its own"
    // takes a positive mark (controller/identity.ts): another operator's member (another selector, perhaps another
    // account) is never ours, and a 404 from our account would wrongly read as "already deleted" for a key that
    // lives elsewhere
    if (!caches.manages(ns) && !(await this.finalizes(cached, m))) return {};
    if (!m.ok) {
      // fail closed: deletion and suspension are read field by field and honoured
      const view = offboardee(m.raw);
      if (!view) return {};
      return reconcileInvalid(view, m.raw, m.message, this.deps);
    }
    const member = m.value;
    if (member.metadata.deletionTimestamp) return finalizeMember(offboardee(member) ?? unreadable(member), this.deps);
    // paused: nothing changes, except what takes a key away (a suspension goes through the pass, fail closed)
    const paused = pausedBy(member, caches.policies.get(member.spec.policy));
    if (paused && !member.spec.suspended) return holdPaused(member, paused, this.deps);
    // nothing is claimed or issued while OpenRouter refuses the management key
    if (!credentials.valid) return { requeueAfterMs: CREDENTIALS_WAIT_MS };
    // until a first list succeeds, keys are simply not observed yet: plans keep them, nothing is replaced
    if (book.refreshedFrom === undefined) await this.firstListing();
    const claimed = await claim(member, this.deps);
    return reconcileMember(claimed.member, this.deps, claimed.fresh);
  }

  /** Whether a deleted member outside the namespaces this operator manages is its own to offboard. */
  private async finalizes(raw: KubernetesObject, m: NonNullable<Parsed<TeamMember>>): Promise<boolean> {
    const view = offboardee(m.ok ? m.value : m.raw);
    if (!view) return false;
    const recorded = recordedOperator(raw);
    let asked = false;
    const decide = () => finalizes(view, recorded, this.w.clusterId, (hash) => {
      asked = true;
      return this.w.book.get(hash) !== undefined;
    });
    if (decide()) return true;
    if (!asked || this.w.book.refreshedFrom !== undefined || !this.w.credentials.valid) return false;
    // a key named before ids were per operator is recognised by our account holding it: list the account once
    await this.firstListing();
    return decide();
  }

  private firstListing(): Promise<void> {
    return this.w.keySync.first().catch((e: unknown) => this.w.log.warn({ err: errorMessage(e) }, 'first key listing failed'));
  }
}

function memberDeps(w: MemberWiring, rotationSlots: RotationSlots): MemberDeps {
  const { caches, keySync, metrics, usageBook } = w;
  return {
    members: new KubeMembers(w.cluster),
    secrets: new KubeSecrets(w.cluster, (ns, name) => caches.secrets.get(name, ns)),
    events: w.recorder,
    keys: new BookedKeys(w.keys, w.book),
    guardrails: new BookedGuardrails(w.guardrails, w.guardrailBook),
    book: w.book,
    guardrailBook: w.guardrailBook,
    guardrailFor: (p) => guardrailFor(w.guardrailBook, w.clusterId, p),
    usage: (uid) => (usageBook.at ? { rows: usageBook.rows(uid), at: usageBook.at } : undefined),
    policy: (name) => {
      const p = caches.policy(name);
      return p && resolvePolicy(p);
    },
    namespaceLabels: (name) => caches.namespaces.get(name)?.metadata?.labels,
    namespaceTerminating: (name) => caches.namespaces.get(name)?.metadata?.deletionTimestamp !== undefined,
    workloadsUsing: (ns, secret) => caches.workloadsUsing(ns, secret),
    rolloutsUsing: (ns, secret) => caches.rolloutsUsing(ns, secret).length,
    credentialsValid: () => w.credentials.valid,
    workspaceId: (p) => keySync.workspaceId(p),
    refreshBook: () => keySync.refreshBook(),
    rotationSlot: (member) => rotationSlots.take(member),
    clock: w.clock,
    log: w.log,
    clusterId: w.clusterId,
    baseUrl: w.baseUrl,
    hmacKey: w.hmacKey,
    observe: {
      rotated: (trigger) => metrics.rotations.inc({ trigger }),
      overlapEnded: (ended, seconds) => {
        metrics.rotationEnds.inc({ ended });
        metrics.rotationDuration.observe({ ended }, seconds);
        // a slot frees once this member's status is written and cached: the members waiting try shortly after
        for (const m of rotationSlots.wake()) w.queue.addAfter(memberItemOf(m), SLOT_WAKE_MS);
      },
    },
  };
}
