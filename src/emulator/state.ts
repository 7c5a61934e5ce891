import { randomBytes, randomUUID, createHash } from 'node:crypto';
import type { Window } from '../util/windows.ts';

/** Everything the emulator remembers. Plain JSON so it can be written to a state file; holds no key strings. */
export interface KeyRecord {
  hash: string;
  name: string;
  /** sha256 of the secret, so the secret itself is never stored */
  digest: string;
  label: string;
  management: boolean;
  disabled: boolean;
  limit: number | null;
  limitReset: Window | null;
  includeByokInLimit: boolean;
  createdAt: string;
  updatedAt: string | null;
  expiresAt: string | null;
  creatorUserId: string | null;
  workspaceId: string;
  externalUser: string | null;
  usage: number;
  byokUsage: number;
  /** spend per UTC day (YYYY-MM-DD); enough to derive the daily, weekly and monthly windows */
  days: Record<string, { usage: number; byok: number }>;
}

export interface ActivityRecord {
  date: string;
  keyHash: string;
  /** the key's name when it was used: analytics still shows it after the key is deleted */
  keyName?: string;
  workspaceId: string;
  model: string;
  usage: number;
  byok: number;
  requests: number;
  promptTokens: number;
  completionTokens: number;
}

export interface GuardrailRecord {
  id: string;
  name: string;
  workspaceId: string | null;
  createdAt: string;
  updatedAt: string | null;
  /** every optional guardrail field, as last written (canonical model slugs) */
  fields: Record<string, unknown>;
}

export interface AssignmentRecord {
  id: string;
  guardrailId: string;
  /** key hash or member user id */
  target: string;
  assignedBy: string | null;
  createdAt: string;
}

/** A workspace budget's window, as its route names it: a UTC window, or `lifetime` (never resets). */
export type BudgetInterval = Window | 'lifetime';

export interface BudgetRecord {
  id: string;
  limitUsd: number;
  createdAt: string;
  updatedAt: string;
}

export interface Workspace {
  id: string;
  slug: string;
  name: string;
  defaultGuardrailId: string;
  /** the rules of the workspace's default guardrail (set in OpenRouter's dashboard; here by a control route) */
  defaultGuardrail?: Record<string, unknown> | undefined;
  createdAt: string;
  /** the fields below are optional so that a state file written before workspaces could change still loads */
  updatedAt?: string | null;
  /** the optional settings as last written (description, default models, logging flags), by wire name */
  settings?: Record<string, unknown>;
  /** workspace-wide at OpenRouter: one flag for every budget window */
  includeByokInBudgets?: boolean;
  budgets?: Partial<Record<BudgetInterval, BudgetRecord>>;
}

export interface EmulatorState {
  userId: string;
  organizationId: string | null;
  totalCredits: number;
  workspaces: Workspace[];
  keys: KeyRecord[];
  guardrails: GuardrailRecord[];
  keyAssignments: AssignmentRecord[];
  memberAssignments: AssignmentRecord[];
  activity: ActivityRecord[];
}

export function digestOf(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function newSecret(): string {
  return `sk-or-v1-${randomBytes(32).toString('hex')}`;
}

export function newHash(): string {
  return randomBytes(32).toString('hex');
}

/** The masked preview OpenRouter shows instead of the key: prefix, first 3 and last 3 characters. */
export function maskKey(secret: string): string {
  const body = secret.slice('sk-or-v1-'.length);
  return `sk-or-v1-${body.slice(0, 3)}...${body.slice(-3)}`;
}

export const DEFAULT_WORKSPACE_ID = '0df9e665-d932-5740-b2c7-b52af166bc11';

export function initialState(nowIso: string, totalCredits = 100): EmulatorState {
  return {
    userId: 'user_teamkeysemulator0000000000',
    organizationId: null,
    totalCredits,
    workspaces: [
      { id: DEFAULT_WORKSPACE_ID, slug: 'default', name: 'Default', defaultGuardrailId: randomUUID(), createdAt: nowIso },
    ],
    keys: [],
    guardrails: [],
    keyAssignments: [],
    memberAssignments: [],
    activity: [],
  };
}
