/**
 * What a member reconcile needs from the world, injected once by the operator: the ports it acts through
 * (members, Secrets, Events, keys and guardrails, each keeping its book in step), the caches it reads, and settings.
 */
import type { KeyObject } from 'node:crypto';
import type { Logger } from 'pino';
import type { ResolvedPolicy } from '../../api/policy.ts';
import type { KeyPolicy, RotationTrigger } from '../../api/schema.ts';
import type { KindedWorkload } from '../../kube/cluster.ts';
import type { Clock } from '../../util/clock.ts';
import type { Recorder } from '../events.ts';
import type { KeyBook } from '../keybook.ts';
import type { KeyPort } from '../../domain/key.ts';
import type { GuardrailPort } from '../../domain/guardrail.ts';
import type { MemberStore } from '../../domain/member.ts';
import type { SecretStore } from '../../domain/secret.ts';
import type { GuardrailBook } from '../guardrailbook.ts';
import type { UsageRow } from '../../domain/usage.ts';

export type { Result } from '../failure.ts';

/** The guardrail a policy's keys must hold: none wanted, this one, or not created yet. */
export type GuardrailFor = { kind: 'none' } | { kind: 'ready'; id: string } | { kind: 'pending' };

/** Events about members: best effort, never a reason to fail a pass. */
export type EventSink = Pick<Recorder, 'normal' | 'warn'>;

export interface MemberDeps {
  /** ports: each write-through keeps its book in step (controller/booked.ts) */
  members: MemberStore;
  secrets: SecretStore;
  events: EventSink;
  keys: KeyPort;
  guardrails: GuardrailPort;
  /** what the last listings and this process's own calls know of keys and guardrails */
  book: KeyBook;
  guardrailBook: GuardrailBook;
  /** the policy's guardrail, from the book (the policy reconcile creates it) */
  guardrailFor: (policy: KeyPolicy) => GuardrailFor;
  /** the member's analytics rows (every key it had) and when they were read; undefined before the first read */
  usage: (memberUid: string) => { rows: readonly UsageRow[]; at: string } | undefined;
  policy: (name: string) => ResolvedPolicy | undefined;
  namespaceLabels: (name: string) => Record<string, string> | undefined;
  /** the namespace is being deleted: its members are about to be deleted too */
  namespaceTerminating: (name: string) => boolean;
  /** opted-in workloads that use this Secret (none with --restart-workloads=false) */
  workloadsUsing: (namespace: string, secret: string) => KindedWorkload[];
  /** how many opted-in Argo Rollouts use this Secret */
  rolloutsUsing: (namespace: string, secret: string) => number;
  credentialsValid: () => boolean;
  workspaceId: (policy: KeyPolicy) => Promise<string | undefined>;
  /** relists every workspace the operator uses: a partial list would make other members' keys look deleted */
  refreshBook: () => Promise<void>;
  /** a scheduled rotation may start now (--max-concurrent-rotations); true also when this member already holds a slot */
  rotationSlot: (member: string) => boolean;
  clock: Clock;
  log: Logger;
  clusterId: string;
  baseUrl: string;
  hmacKey: KeyObject;
  /** for metrics */
  observe: {
    rotated: (trigger: RotationTrigger) => void;
    overlapEnded: (ended: 'rolled_out' | 'overlap' | 'stalled' | 'forced', seconds: number) => void;
  };
}
