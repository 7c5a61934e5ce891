/** What the act step of one member pass works with, and the state it hands from step to step. */
import type { ResolvedPolicy } from '../../api/policy.ts';
import type { TeamMemberStatus } from '../../api/schema.ts';
import type { SecretObject } from '../../domain/secret.ts';
import type { MemberDeps } from './deps.ts';
import type { DesiredBudget } from './budget.ts';
import type { MemberView } from './gather.ts';
import type { StatusJournal } from './journal.ts';

export interface Pass {
  v: MemberView;
  d: MemberDeps;
  journal: StatusJournal;
  /** the member's policy, or the schema's defaults when it has none to serve it */
  policy: ResolvedPolicy;
  /** what the member may spend (undefined: it is not served) */
  budget: DesiredBudget | undefined;
}

/** The status as it stands after each step, the spend carried from replaced keys, and the member Secret held. */
export interface Progress {
  status: TeamMemberStatus;
  carried: { usd: number; window: string };
  secret: SecretObject | undefined;
  /** what a key issued in this pass was created with (its limit, reset, BYOK) */
  issuedWith?: DesiredBudget | undefined;
}
