import type { KeyObject } from 'node:crypto';
import type { V1Secret } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { KeyPolicy, RotationTrigger, TeamMember } from '../../api/schema.ts';
import type { Cluster, KindedWorkload } from '../../kube/cluster.ts';
import type { Clock } from '../../util/clock.ts';
import type { Recorder } from '../events.ts';
import type { KeyBook } from '../keybook.ts';
import type { KeyPort } from '../../domain/key.ts';
import type { GuardrailPort } from '../../domain/guardrail.ts';
import type { GuardrailBook } from '../guardrailbook.ts';
import type { UsageRow } from '../../domain/usage.ts';

/** The guardrail a policy's keys must hold: none wanted, this one, or not created yet. */
export type GuardrailFor = { kind: 'none' } | { kind: 'ready'; id: string } | { kind: 'pending' };

/** What a member reconcile needs from the outside world, injected by the operator. */
export interface MemberDeps {
  cluster: Cluster;
  keys: KeyPort;
  book: KeyBook;
  guardrails: GuardrailPort;
  guardrailBook: GuardrailBook;
  /** the policy's guardrail, from the book (the policy reconcile creates it) */
  guardrailFor: (policy: KeyPolicy) => GuardrailFor;
  /** the member's analytics rows (every key it had) and when they were read; undefined before the first read */
  usage: (memberUid: string) => { rows: readonly UsageRow[]; at: string } | undefined;
  clock: Clock;
  log: Logger;
  recorder: Recorder;
  clusterId: string;
  baseUrl: string;
  hmacKey: KeyObject;
  credentialsValid: () => boolean;
  policy: (name: string) => KeyPolicy | undefined;
  namespaceLabels: (name: string) => Record<string, string> | undefined;
  /** the namespace is being deleted: its members are about to be deleted too */
  namespaceTerminating: (name: string) => boolean;
  cachedSecret: (namespace: string, name: string) => V1Secret | undefined;
  workspaceId: (policy: KeyPolicy) => Promise<string | undefined>;
  /** relists every workspace the operator uses: a partial list would make other members' keys look deleted */
  refreshBook: () => Promise<void>;
  /** a fresh read from the API server: a lagging informer cache must not decide a create or a revoke alone */
  readMember: (namespace: string, name: string) => Promise<TeamMember | undefined>;
  /** a scheduled rotation may start now (--max-concurrent-rotations); true also when this member already holds a slot */
  rotationSlot: (member: string) => boolean;
  /** opted-in workloads that use this Secret (none with --restart-workloads=false) */
  workloadsUsing: (namespace: string, secret: string) => KindedWorkload[];
  /** for metrics */
  observe: {
    rotated: (trigger: RotationTrigger) => void;
    overlapEnded: (ended: 'rolled_out' | 'overlap' | 'stalled' | 'forced', seconds: number) => void;
  };
}

export type Result = { requeueAfterMs?: number; retry?: boolean };
