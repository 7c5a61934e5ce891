/** The adapter between OpenRouter's guardrail endpoints and the controller's Guardrail. */
import type { Guardrail, GuardrailPort, GuardrailRules } from '../domain/guardrail.ts';
import { pages, type OpenRouterClient } from './client.ts';
import * as S from './schemas.ts';
import type { ApiGuardrail } from './schemas.ts';
import { goneIsDone } from './errors.ts';

/** OpenRouter's provider groups for zero-data-retention enforcement (enforce_zdr itself is deprecated). */
const ZDR_FLAGS = ['enforce_zdr_anthropic', 'enforce_zdr_openai', 'enforce_zdr_google', 'enforce_zdr_xai', 'enforce_zdr_other'] as const;

/** The most hashes one assignment call carries. */
const ASSIGN_BATCH = 100;

const list = (v: string[] | null | undefined): string[] | undefined => (v && v.length > 0 ? v : undefined);

function toGuardrail(g: ApiGuardrail): Guardrail {
  return {
    id: g.id,
    name: g.name,
    workspaceId: g.workspace_id ?? undefined,
    allowedModels: list(g.allowed_models),
    deniedModels: list(g.ignored_models),
    allowedProviders: list(g.allowed_providers),
    deniedProviders: list(g.ignored_providers),
    // on only when every group enforces it (or the old all-groups flag does)
    zeroDataRetention: g.enforce_zdr === true || ZDR_FLAGS.every((f) => g[f] === true),
  };
}

/** The full rule set, so a PATCH replaces every collection (absent lists are sent as null: no restriction). */
function toWire(r: GuardrailRules): Record<string, unknown> {
  return {
    allowed_models: r.allowedModels ?? null,
    ignored_models: r.deniedModels ?? null,
    allowed_providers: r.allowedProviders ?? null,
    ignored_providers: r.deniedProviders ?? null,
    ...Object.fromEntries(ZDR_FLAGS.map((f) => [f, r.zeroDataRetention])),
  };
}

export class OpenRouterGuardrails implements GuardrailPort {
  private readonly client: OpenRouterClient;

  constructor(client: OpenRouterClient) {
    this.client = client;
  }

  async *list(workspaceId: string | undefined): AsyncGenerator<Guardrail> {
    const fetchPage = (offset: number, limit: number) => {
      const q = new URLSearchParams({ offset: String(offset), limit: String(limit) });
      if (workspaceId) q.set('workspace_id', workspaceId);
      return this.client.request('GET', 'GET /guardrails', `/guardrails?${q.toString()}`, S.GuardrailList);
    };
    for await (const g of pages(fetchPage)) yield toGuardrail(g);
  }

  async get(id: string): Promise<Guardrail> {
    return toGuardrail((await this.client.request('GET', 'GET /guardrails/{id}', `/guardrails/${encodeURIComponent(id)}`, S.GuardrailEnvelope)).data);
  }

  async create(name: string, description: string, workspaceId: string | undefined, rules: GuardrailRules): Promise<Guardrail> {
    // null collections are left out on create: OpenRouter wants at least one item or nothing
    const fields = Object.fromEntries(Object.entries(toWire(rules)).filter(([, v]) => v !== null));
    const body = { name, description, ...fields, ...(workspaceId ? { workspace_id: workspaceId } : {}) };
    return toGuardrail((await this.client.request('POST', 'POST /guardrails', '/guardrails', S.GuardrailEnvelope, body)).data);
  }

  async update(id: string, rules: GuardrailRules): Promise<Guardrail> {
    return toGuardrail((await this.client.request('PATCH', 'PATCH /guardrails/{id}', `/guardrails/${encodeURIComponent(id)}`, S.GuardrailEnvelope, toWire(rules))).data);
  }

  delete(id: string): Promise<void> {
    return goneIsDone(this.client.request('DELETE', 'DELETE /guardrails/{id}', `/guardrails/${encodeURIComponent(id)}`, S.Deleted));
  }

  async *assignedKeys(id: string): AsyncGenerator<string> {
    const path = `/guardrails/${encodeURIComponent(id)}/assignments/keys`;
    const fetchPage = (offset: number, limit: number) =>
      this.client.request('GET', 'GET /guardrails/{id}/assignments/keys', `${path}?offset=${offset}&limit=${limit}`, S.KeyAssignmentList);
    for await (const a of pages(fetchPage)) yield a.key_hash;
  }

  async assign(id: string, hashes: readonly string[]): Promise<number> {
    let n = 0;
    for (const batch of batches(hashes)) {
      n += (await this.client.request('POST', 'POST /guardrails/{id}/assignments/keys', `/guardrails/${encodeURIComponent(id)}/assignments/keys`, S.Assigned, { key_hashes: batch })).assigned_count;
    }
    return n;
  }

  async unassign(id: string, hashes: readonly string[]): Promise<number> {
    let n = 0;
    for (const batch of batches(hashes)) {
      n += (await this.client.request('POST', 'POST /guardrails/{id}/assignments/keys/remove', `/guardrails/${encodeURIComponent(id)}/assignments/keys/remove`, S.Unassigned, { key_hashes: batch })).unassigned_count;
    }
    return n;
  }
}

function batches(hashes: readonly string[]): string[][] {
  const out: string[][] = [];
  for (let i = 0; i < hashes.length; i += ASSIGN_BATCH) out.push(hashes.slice(i, i + ASSIGN_BATCH));
  return out;
}
