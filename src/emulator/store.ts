import { randomUUID } from 'node:crypto';
import { roundUsd } from '../util/money.ts';
import { utcDay, type Window } from '../util/windows.ts';
import type { Clock } from '../util/clock.ts';
import { HttpError, MESSAGES } from './errors.ts';
import { findModel, type ModelEntry } from './catalog.ts';
import { orderingError } from './budgets.ts';
import {
  digestOf, initialState, maskKey, newHash, newSecret,
  type AssignmentRecord, type BudgetInterval, type BudgetRecord, type EmulatorState, type GuardrailRecord, type KeyRecord, type Workspace,
} from './state.ts';
import { isExpired, pruneDays } from './usage.ts';

export interface CreateKeyInput {
  name: string;
  limit?: number | null | undefined;
  limitReset?: Window | null | undefined;
  includeByokInLimit?: boolean | undefined;
  expiresAt?: string | null | undefined;
  creatorUserId?: string | null | undefined;
  workspaceId?: string | undefined;
  externalUser?: string | undefined;
}

export interface UpdateKeyInput {
  name?: string | undefined;
  disabled?: boolean | undefined;
  limit?: number | null | undefined;
  limitReset?: Window | null | undefined;
  includeByokInLimit?: boolean | undefined;
}

export interface SpendInput {
  usd: number;
  byok?: boolean;
  model?: ModelEntry | undefined;
  promptTokens?: number;
  completionTokens?: number;
}

/** OpenRouter's fee on BYOK inference, deducted from the account's credits. */
const BYOK_FEE = 0.05;

/** The emulator's account: keys, guardrails, assignments and activity, mutated only through these methods. */
export class Store {
  state: EmulatorState;
  private readonly clock: Clock;
  private readonly onChange: () => void;
  private byDigest = new Map<string, KeyRecord>();

  /** told each key string issued (tests hunt for it where it must not be); the store itself keeps digests only */
  onIssued: ((secret: string) => void) | undefined;

  constructor(clock: Clock, state: EmulatorState | undefined, onChange: () => void = () => {}) {
    this.clock = clock;
    this.state = state ?? initialState(this.nowIso());
    this.onChange = onChange;
    this.reindex();
  }

  nowIso(): string {
    return new Date(this.clock.now()).toISOString().replace(/\.\d{3}Z$/, 'Z');
  }

  now(): number {
    return this.clock.now();
  }

  replace(state: EmulatorState): void {
    this.state = state;
    this.reindex();
    this.onChange();
  }

  private reindex(): void {
    this.byDigest = new Map(this.state.keys.map((k) => [k.digest, k]));
  }

  /** Adds a management key whose secret the operator of the emulator chose. */
  addManagementKey(secret: string, name = 'management'): void {
    const digest = digestOf(secret);
    if (this.byDigest.has(digest)) return;
    const k = this.newRecord({ name }, secret);
    k.management = true;
    this.state.keys.push(k);
    this.byDigest.set(digest, k);
    this.onChange();
  }

  /** Resolves a bearer secret to a live key, or throws the 401 OpenRouter gives. */
  authenticate(secret: string | undefined): KeyRecord {
    if (!secret) throw new HttpError(401, MESSAGES.missingAuth);
    const k = this.byDigest.get(digestOf(secret));
    if (!k || k.disabled || isExpired(k, this.now())) throw new HttpError(401, MESSAGES.userNotFound);
    return k;
  }

  /** The workspace a `workspace_id` parameter names (the default one when absent); an unknown one is a bad request. */
  workspace(idOrSlug: string | undefined): Workspace {
    const ws = this.state.workspaces;
    if (idOrSlug === undefined) return ws[0]!;
    const w = ws.find((x) => x.id === idOrSlug || x.slug === idOrSlug);
    if (!w) throw new HttpError(400, `Workspace ${idOrSlug} not found`);
    return w;
  }

  /** The workspace a /workspaces/{id} path names: there, an unknown one is a missing resource. */
  findWorkspace(idOrSlug: string): Workspace {
    const w = this.state.workspaces.find((x) => x.id === idOrSlug || x.slug === idOrSlug);
    if (!w) throw new HttpError(404, MESSAGES.notFound);
    return w;
  }

  createWorkspace(name: string, slug: string, settings: Record<string, unknown> = {}): Workspace {
    this.slugFree(slug, undefined);
    const w: Workspace = { id: randomUUID(), slug, name, defaultGuardrailId: randomUUID(), createdAt: this.nowIso(), updatedAt: null, settings };
    this.state.workspaces.push(w);
    this.onChange();
    return w;
  }

  updateWorkspace(w: Workspace, change: { name?: string | undefined; slug?: string | undefined; settings: Record<string, unknown> }): Workspace {
    if (change.slug !== undefined) this.slugFree(change.slug, w);
    if (change.name !== undefined) w.name = change.name;
    if (change.slug !== undefined) w.slug = change.slug;
    w.settings = { ...w.settings, ...change.settings };
    w.updatedAt = this.nowIso();
    this.onChange();
    return w;
  }

  private slugFree(slug: string, self: Workspace | undefined): void {
    if (this.state.workspaces.some((w) => w.slug === slug && w !== self)) throw new HttpError(400, `Invalid request parameters: slug ${slug} is taken`);
  }

  /**
   * Refused for the default workspace (403: the capability is not enabled for every account yet) and while an
   * enabled key is in it (400, one of the statuses the document declares). Its budgets, guardrails and disabled
   * keys go with it; its activity stays, as a deleted key's does.
   */
  deleteWorkspace(w: Workspace): void {
    if (w === this.state.workspaces[0]) throw new HttpError(403, 'The default workspace cannot be deleted');
    const active = this.state.keys.filter((k) => k.workspaceId === w.id && !k.disabled).length;
    if (active > 0) throw new HttpError(400, `Workspace ${w.slug} has ${active} active API key(s); delete or disable them first`);
    for (const k of this.state.keys.filter((x) => x.workspaceId === w.id && !x.management)) this.deleteKey(k.hash);
    for (const g of this.state.guardrails.filter((x) => x.workspaceId === w.id)) this.deleteGuardrail(g.id);
    this.state.workspaces = this.state.workspaces.filter((x) => x !== w);
    this.onChange();
  }

  budget(w: Workspace, interval: BudgetInterval): BudgetRecord {
    const b = w.budgets?.[interval];
    if (!b) throw new HttpError(404, MESSAGES.notFound);
    return b;
  }

  /** Creates or replaces one window's budget; `includeByok` (workspace-wide) is left as it is when undefined. */
  putBudget(w: Workspace, interval: BudgetInterval, limitUsd: number, includeByok: boolean | undefined): BudgetRecord {
    const limits = Object.fromEntries(Object.entries(w.budgets ?? {}).map(([i, b]) => [i, b.limitUsd]));
    const refused = orderingError({ ...limits, [interval]: limitUsd });
    if (refused) throw new HttpError(400, `Invalid request parameters: ${refused}`);
    const now = this.nowIso();
    const was = w.budgets?.[interval];
    const b: BudgetRecord = { id: was?.id ?? randomUUID(), limitUsd, createdAt: was?.createdAt ?? now, updatedAt: now };
    w.budgets = { ...w.budgets, [interval]: b };
    if (includeByok !== undefined) w.includeByokInBudgets = includeByok;
    this.onChange();
    return b;
  }

  deleteBudget(w: Workspace, interval: BudgetInterval): void {
    if (!w.budgets?.[interval]) return;
    const { [interval]: _gone, ...rest } = w.budgets;
    w.budgets = rest;
    this.onChange();
  }

  private newRecord(input: CreateKeyInput, secret: string): KeyRecord {
    return {
      hash: newHash(),
      name: input.name,
      digest: digestOf(secret),
      label: maskKey(secret),
      management: false,
      disabled: false,
      limit: input.limit ?? null,
      limitReset: input.limitReset ?? null,
      includeByokInLimit: input.includeByokInLimit ?? false,
      createdAt: this.nowIso(),
      updatedAt: null,
      expiresAt: input.expiresAt ?? null,
      creatorUserId: input.creatorUserId ?? this.state.userId,
      workspaceId: this.workspace(input.workspaceId).id,
      externalUser: input.externalUser ?? null,
      usage: 0,
      byokUsage: 0,
      days: {},
    };
  }

  createKey(input: CreateKeyInput): { key: KeyRecord; secret: string } {
    if (input.expiresAt && Date.parse(input.expiresAt) <= this.now()) {
      throw new HttpError(400, 'expires_at must be in the future');
    }
    const secret = newSecret();
    const key = this.newRecord(input, secret);
    this.state.keys.push(key);
    this.byDigest.set(key.digest, key);
    this.onChange();
    this.onIssued?.(secret);
    return { key, secret };
  }

  /** Member keys of one workspace, newest first (creation order breaks ties within one second). */
  listKeys(opts: { workspaceId?: string | undefined; includeDisabled: boolean }): KeyRecord[] {
    const ws = this.workspace(opts.workspaceId).id;
    const out: KeyRecord[] = [];
    for (let i = this.state.keys.length - 1; i >= 0; i--) {
      const k = this.state.keys[i]!;
      if (k.management || k.workspaceId !== ws) continue;
      if (k.disabled && !opts.includeDisabled) continue;
      out.push(k);
    }
    return out;
  }

  getKey(hash: string): KeyRecord {
    const k = this.state.keys.find((x) => x.hash === hash && !x.management);
    if (!k) throw new HttpError(404, MESSAGES.notFound);
    return k;
  }

  updateKey(hash: string, input: UpdateKeyInput): KeyRecord {
    const k = this.getKey(hash);
    if (input.name !== undefined) k.name = input.name;
    if (input.disabled !== undefined) k.disabled = input.disabled;
    if (input.limit !== undefined) k.limit = input.limit;
    if (input.limitReset !== undefined) k.limitReset = input.limitReset;
    if (input.includeByokInLimit !== undefined) k.includeByokInLimit = input.includeByokInLimit;
    k.updatedAt = this.nowIso();
    this.onChange();
    return k;
  }

  deleteKey(hash: string): void {
    const k = this.getKey(hash);
    this.state.keys = this.state.keys.filter((x) => x !== k);
    this.state.keyAssignments = this.state.keyAssignments.filter((a) => a.target !== hash);
    this.byDigest.delete(k.digest);
    this.onChange();
  }

  /** Records spend on a key: lifetime, per-day windows and an activity row. */
  spend(k: KeyRecord, input: SpendInput): void {
    const now = this.now();
    const day = utcDay(now);
    const byok = input.byok === true;
    const usd = roundUsd(input.usd);
    const bucket = (k.days[day] ??= { usage: 0, byok: 0 });
    if (byok) {
      k.byokUsage = roundUsd(k.byokUsage + usd);
      bucket.byok = roundUsd(bucket.byok + usd);
    } else {
      k.usage = roundUsd(k.usage + usd);
      bucket.usage = roundUsd(bucket.usage + usd);
    }
    pruneDays(k, now);
    const model = input.model ?? findModel('openai/gpt-4o-mini')!;
    let row = this.state.activity.find((r) => r.date === day && r.keyHash === k.hash && r.model === model.slug);
    if (!row) {
      row = { date: day, keyHash: k.hash, keyName: k.name, workspaceId: k.workspaceId, model: model.slug, usage: 0, byok: 0, requests: 0, promptTokens: 0, completionTokens: 0 };
      this.state.activity.push(row);
    }
    if (byok) row.byok = roundUsd(row.byok + usd);
    else row.usage = roundUsd(row.usage + usd);
    row.requests += 1;
    row.promptTokens += input.promptTokens ?? 0;
    row.completionTokens += input.completionTokens ?? 0;
    this.onChange();
  }

  /** Credits used: what keys spent, and OpenRouter's 5% fee on BYOK inference (the provider bills the rest). */
  totalUsage(): number {
    return roundUsd(this.state.keys.reduce((sum, k) => sum + k.usage + BYOK_FEE * k.byokUsage, 0));
  }

  // --- guardrails -------------------------------------------------------------------------------------------

  guardrail(id: string): GuardrailRecord {
    const g = this.state.guardrails.find((x) => x.id === id);
    if (!g) throw new HttpError(404, MESSAGES.notFound);
    return g;
  }

  createGuardrail(name: string, workspaceId: string | undefined, fields: Record<string, unknown>): GuardrailRecord {
    const g: GuardrailRecord = {
      id: randomUUID(),
      name,
      workspaceId: this.workspace(workspaceId).id,
      createdAt: this.nowIso(),
      updatedAt: null,
      fields,
    };
    this.state.guardrails.push(g);
    this.onChange();
    return g;
  }

  updateGuardrail(id: string, name: string | undefined, fields: Record<string, unknown>): GuardrailRecord {
    const g = this.guardrail(id);
    if (name !== undefined) g.name = name;
    g.fields = { ...g.fields, ...fields };
    g.updatedAt = this.nowIso();
    this.onChange();
    return g;
  }

  deleteGuardrail(id: string): void {
    this.guardrail(id);
    this.state.guardrails = this.state.guardrails.filter((g) => g.id !== id);
    this.state.keyAssignments = this.state.keyAssignments.filter((a) => a.guardrailId !== id);
    this.state.memberAssignments = this.state.memberAssignments.filter((a) => a.guardrailId !== id);
    this.onChange();
  }

  /** A key holds at most one guardrail: assigning again replaces the previous assignment. */
  assignKeys(guardrailId: string, hashes: string[]): number {
    this.guardrail(guardrailId);
    for (const h of hashes) this.getKey(h);
    let count = 0;
    for (const h of new Set(hashes)) {
      const existing = this.state.keyAssignments.find((a) => a.target === h);
      if (existing?.guardrailId === guardrailId) continue;
      this.state.keyAssignments = this.state.keyAssignments.filter((a) => a.target !== h);
      this.state.keyAssignments.push(this.assignment(guardrailId, h));
      count++;
    }
    this.onChange();
    return count;
  }

  assignMembers(guardrailId: string, userIds: string[]): number {
    this.guardrail(guardrailId);
    let count = 0;
    for (const u of new Set(userIds)) {
      if (this.state.memberAssignments.some((a) => a.target === u && a.guardrailId === guardrailId)) continue;
      this.state.memberAssignments.push(this.assignment(guardrailId, u));
      count++;
    }
    this.onChange();
    return count;
  }

  unassign(kind: 'keyAssignments' | 'memberAssignments', guardrailId: string, targets: string[]): number {
    this.guardrail(guardrailId);
    const drop = new Set(targets);
    const before = this.state[kind].length;
    this.state[kind] = this.state[kind].filter((a) => !(a.guardrailId === guardrailId && drop.has(a.target)));
    this.onChange();
    return before - this.state[kind].length;
  }

  private assignment(guardrailId: string, target: string): AssignmentRecord {
    return { id: randomUUID(), guardrailId, target, assignedBy: this.state.userId, createdAt: this.nowIso() };
  }

  /**
   * Whether the guardrails that apply to a key let it call a model: its own guardrail and its workspace's default
   * guardrail, combined as OpenRouter does (allowlists intersect, blocklists add up, ZDR if any asks for it).
   */
  guardrailsAllow(k: KeyRecord, model: ModelEntry): boolean {
    const own = this.state.keyAssignments.find((x) => x.target === k.hash);
    const rules = [own ? this.guardrail(own.guardrailId).fields : undefined, this.workspace(k.workspaceId).defaultGuardrail];
    return rules.every((r) => r === undefined || rulesAllow(r, model));
  }
}

const strings = (v: unknown): string[] | undefined => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined);
const ZDR_GROUPS: Record<string, string> = { anthropic: 'enforce_zdr_anthropic', openai: 'enforce_zdr_openai', google: 'enforce_zdr_google', 'x-ai': 'enforce_zdr_xai' };

function rulesAllow(r: Record<string, unknown>, m: ModelEntry): boolean {
  const names = [m.slug, m.canonical];
  const allowed = strings(r['allowed_models']);
  if (allowed && !names.some((n) => allowed.includes(n))) return false;
  if (strings(r['ignored_models'])?.some((n) => names.includes(n))) return false;
  const providers = strings(r['allowed_providers']);
  if (providers && !providers.includes(m.providerSlug)) return false;
  if (strings(r['ignored_providers'])?.includes(m.providerSlug)) return false;
  const group = ZDR_GROUPS[m.slug.split('/')[0] ?? ''] ?? 'enforce_zdr_other';
  return m.zdr || (r['enforce_zdr'] !== true && r[group] !== true);
}
