/**
 * One TeamMember pass, top to bottom: gather what it needs once (gather.ts), decide in one pure function what
 * the member should have and what to do (decide.ts), act through the ports (act.ts), report once (report.ts).
 * A decision made from the caches that would create, revoke or recover is made again from a fresh view first,
 * unless the pass's own claim just proved the cached member current.
 */
import { POLICY_DEFAULTS } from '../../api/policy.ts';
import type { TeamMember } from '../../api/schema.ts';
import { act } from './act.ts';
import { decide } from './decide.ts';
import type { MemberDeps, Result } from './deps.ts';
import { gather, gatherFresh } from './gather.ts';
import { StatusJournal } from './journal.ts';
import type { Pass } from './pass.ts';
import { report, requeue } from './report.ts';

export type { MemberDeps, Result } from './deps.ts';

/**
 * A live member this operator has claimed (finalize.ts claim): deletion is offboarding, routed by entry.ts.
 * `claimed`: the claim was written in this pass, which proves the cached member current (no confirming read).
 */
export async function reconcileMember(read: TeamMember, d: MemberDeps, claimed = false): Promise<Result> {
  let v = await gather(read, d, claimed);
  let decision = decide(v);
  if (decision.confirm) {
    const fresh = await gatherFresh(v, d);
    if (!fresh) return {}; // deleted meanwhile
    v = fresh;
    decision = decide(v);
  }
  const p: Pass = { v, d, journal: new StatusJournal(v.member, d), policy: v.policy ?? POLICY_DEFAULTS, budget: decision.kind === 'served' ? decision.budget : undefined };
  const acted = await act(p, decision);
  if (acted.stop) return acted.result ?? {};
  const written = await report(p, decision, acted);
  return acted.result ?? requeue(p, decision, { ...acted, status: written });
}
