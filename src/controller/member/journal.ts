/**
 * The member's status as last read or written in this pass, and the one way it is written: a merge patch of what
 * changed, guarded by the resourceVersion the pass holds. A stale view (a deposed leader's, a lagging cache) fails
 * with a conflict and is retried from a fresh read; it never overwrites another writer's intent.
 */
import type { TeamMember, TeamMemberStatus } from '../../api/schema.ts';
import { StatusRejected } from '../../domain/errors.ts';
import { toJson } from '../../util/json.ts';
import { setCondition } from '../conditions.ts';
import { mergePatch } from '../mergepatch.ts';
import type { MemberDeps } from './deps.ts';

export class StatusJournal {
  private m: TeamMember;
  private readonly d: Pick<MemberDeps, 'members' | 'events' | 'clusterId' | 'clock'>;

  constructor(member: TeamMember, d: Pick<MemberDeps, 'members' | 'events' | 'clusterId' | 'clock'>) {
    this.m = member;
    this.d = d;
  }

  /** The member with its status as last written (or read). */
  get member(): TeamMember {
    return this.m;
  }

  get status(): TeamMemberStatus {
    return this.m.status ?? {};
  }

  /** Writes the status when it differs from the last one written; returns it as written. */
  async save(status: TeamMemberStatus): Promise<TeamMemberStatus> {
    if (status === this.m.status) return status; // what an idle pass computes (status.ts returns the status it read)
    const was = toJson(this.m.status ?? {});
    if (mergePatch(was, toJson(status)) === undefined) return status;
    // a write names the operator that manages the member: it alone may offboard it later (identity.ts). Only a
    // write made anyway carries it, so an upgrade costs no write per member (their key names say it meanwhile)
    const next = { ...status, operator: this.d.clusterId };
    const patch = mergePatch(was, toJson(next));
    if (patch === undefined) return next;
    const ns = this.m.metadata.namespace ?? '';
    let rv;
    try {
      rv = await this.d.members.patchStatus(ns, this.m.metadata.name, this.m.metadata.resourceVersion ?? '', patch);
    } catch (e) {
      if (e instanceof StatusRejected) await this.rejected(e.message);
      throw e;
    }
    this.m = { ...this.m, metadata: { ...this.m.metadata, resourceVersion: rv }, status: next };
    return next;
  }

  /**
   * The API server refused a status this operator computed (a bug: every status is checked against the CRD in
   * tests). The member must not go on showing an old Ready=True: only the Ready condition is written, saying so.
   */
  private async rejected(message: string): Promise<void> {
    const now = new Date(this.d.clock.now()).toISOString();
    const conditions = setCondition(this.m.status?.conditions, { type: 'Ready', status: 'False', reason: 'StatusRejected', message: `the API server refused the status the operator computed (please report this): ${message}` }, this.m.metadata.generation, now);
    const patch = mergePatch(toJson({ conditions: this.m.status?.conditions }), toJson({ conditions }));
    if (patch === undefined) return;
    await this.d.members.patchStatus(this.m.metadata.namespace ?? '', this.m.metadata.name, this.m.metadata.resourceVersion ?? '', patch).catch(() => undefined);
    await this.d.events.warn(this.m, 'StatusRejected', conditions.find((c) => c.type === 'Ready')?.message ?? message);
  }
}
