/**
 * Which policy reconcile this operator runs: an operator scoped to some namespaces speaks only for the policies
 * its members use (or used), lets go of deleted ones, and deletes the guardrails of policies gone.
 */
import { BookedGuardrails } from '../booked.ts';
import type { Logger } from 'pino';
import { parsePolicy, policyNameOf } from '../../api/objects.ts';
import { POLICY_FINALIZER } from '../../api/schema.ts';
import type { GuardrailPort } from '../../domain/guardrail.ts';
import type { Cluster } from '../../kube/cluster.ts';
import type { Clock } from '../../util/clock.ts';
import type { Caches } from '../caches.ts';
import type { Credentials } from '../credentials.ts';
import type { Recorder } from '../events.ts';
import type { Result } from '../failure.ts';
import type { GuardrailBook } from '../guardrailbook.ts';
import { selectorText } from '../identity.ts';
import type { KeyBook } from '../keybook.ts';
import type { KeySync } from '../sync.ts';
import { deleteStrayGuardrails, type GuardrailDeps } from './guardrail.ts';
import type { PoolDeps } from './pool.ts';
import type { KeyPort } from '../../domain/key.ts';
import type { Workspaces } from '../../domain/workspace.ts';
import { speaksFor } from './operators.ts';
import { reconcilePolicy } from './reconcile.ts';
import { guardrailName } from './rules.ts';

/** What the operator hands the policy entry. */
export interface PolicyWiring {
  cluster: Cluster;
  recorder: Recorder;
  caches: Caches;
  credentials: Pick<Credentials, 'valid'>;
  guardrails: GuardrailPort;
  guardrailBook: GuardrailBook;
  book: KeyBook;
  keySync: Pick<KeySync, 'resolve' | 'refreshGuardrails'>;
  workspaces: Workspaces;
  keys: KeyPort;
  clock: Clock;
  log: Logger;
  /** this operator's id (controller/identity.ts) */
  clusterId: string;
  /** --namespace-selector; undefined: every namespace */
  namespaceSelector: Record<string, string> | undefined;
}

export class PolicyEntry {
  private readonly w: PolicyWiring;
  private readonly guardrailDeps: GuardrailDeps;
  private readonly poolDeps: PoolDeps;

  constructor(w: PolicyWiring) {
    this.w = w;
    this.guardrailDeps = {
      guardrails: new BookedGuardrails(w.guardrails, w.guardrailBook), book: w.guardrailBook, clusterId: w.clusterId, recorder: w.recorder,
      // a guardrail is filed in the workspace the policy names (an owned one only holds the pool's keys)
      workspaceId: (p) => (p.spec.workspace === undefined ? Promise.resolve(undefined) : w.keySync.resolve(p.spec.workspace)),
      refresh: () => w.keySync.refreshGuardrails(),
      now: () => new Date(w.clock.now()).toISOString(),
    };
    this.poolDeps = {
      workspaces: w.workspaces, resolve: (ref) => w.keySync.resolve(ref), holdsKeys: (id) => w.book.holdsKeys(id), listsKeys: (id) => anyKey(w.keys, id),
      recorder: w.recorder, clusterId: w.clusterId, policies: () => w.caches.allPolicies(), listing: () => w.book.refreshedFrom, checked: new Map(),
    };
  }

  async reconcile(name: string): Promise<Result> {
    const { caches, credentials, clusterId } = this.w;
    const p = parsePolicy(caches.policies.get(name));
    if (!p) {
      // gone: this operator's guardrail goes too, whichever operator let the policy go (only once the guardrails
      // are listed: the listing's own sweep of strays follows it)
      if (credentials.valid && this.w.guardrailBook.refreshed && this.w.guardrailBook.byName(guardrailName(clusterId, name))) return this.deleteStrayGuardrails();
      return {};
    }
    const mine = caches.allMembers();
    const meta = p.ok ? p.value.metadata : p.raw.metadata;
    // only for a deleted policy: every member naming it, in any namespace, terminating or unreadable (each still
    // needs the policy); a policy reconcile follows every member event, so this is not done otherwise
    const users = meta.deletionTimestamp === undefined ? [] : caches.members.list().filter((o) => policyNameOf(o) === name).map((o) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`);
    // an operator scoped to some namespaces speaks only for the policies operators.ts speaksFor says (its members'),
    // but lets go of any deleted policy nobody uses any more
    const releasing = meta.deletionTimestamp !== undefined && meta.finalizers?.includes(POLICY_FINALIZER) === true;
    const used = new Set(mine.map((m) => m.spec.policy));
    if (!releasing && !speaksFor(name, p.ok ? p.value.status : undefined, clusterId, this.w.namespaceSelector !== undefined, used)) return {};
    return reconcilePolicy(p, caches.everyMember(), mine, users, {
      cluster: this.w.cluster, recorder: this.w.recorder, now: new Date(this.w.clock.now()).toISOString(),
      operator: clusterId, selector: selectorText(this.w.namespaceSelector),
      guardrail: credentials.valid ? this.guardrailDeps : undefined,
      pool: credentials.valid ? this.poolDeps : undefined,
      keyExists: (hash) => this.w.book.get(hash) !== undefined,
    });
  }

  /** This operator's guardrails whose policy no longer exists (policy/guardrail.ts deleteStrayGuardrails). */
  async deleteStrayGuardrails(): Promise<Result> {
    if (!this.w.credentials.valid || !this.w.guardrailBook.refreshed) return {};
    const deleted = await deleteStrayGuardrails(this.w.caches.policies.list().map((o) => o.metadata?.name ?? ''), this.guardrailDeps);
    if (deleted.length > 0) this.w.log.info({ guardrails: deleted }, 'deleted the guardrails of deleted policies');
    return {};
  }
}

/** Whether OpenRouter lists any key in the workspace (the first page says). */
async function anyKey(keys: KeyPort, workspaceId: string): Promise<boolean> {
  for await (const _ of keys.list({ workspaceId })) return true;
  return false;
}
