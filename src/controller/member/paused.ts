/** A paused member's pass: its status says so (once), and nothing else is touched. */
import type { TeamMember } from '../../api/schema.ts';
import { setCondition } from '../conditions.ts';
import type { Result } from '../failure.ts';
import { pausedCondition, type PausedBy } from '../pause.ts';
import type { MemberDeps } from './deps.ts';
import { StatusJournal } from './journal.ts';

export async function holdPaused(member: TeamMember, by: PausedBy, d: MemberDeps): Promise<Result> {
  const status = member.status ?? {};
  const now = new Date(d.clock.now()).toISOString();
  await new StatusJournal(member, d).save({ ...status, conditions: setCondition(status.conditions, pausedCondition(by, member.spec.policy), member.metadata.generation, now) });
  // the annotation's removal (on the member, or on its policy) brings the member back
  return {};
}
