/** The adapter between OpenRouter's workspace and workspace-budget endpoints and the controller's Workspaces. */
import type { Workspace, WorkspaceBudget, WorkspaceBudgets, Workspaces } from '../domain/workspace.ts';
import type { ResetPeriod } from '../util/windows.ts';
import type { OpenRouterClient } from './client.ts';
import { goneIsDone, isOpenRouter } from './errors.ts';
import * as S from './schemas.ts';

/** The path names a lifetime budget `lifetime`; the operator calls it `never`, as for a key's limit. */
const interval = (window: ResetPeriod): string => (window === 'never' ? 'lifetime' : window);

/** An answer names a lifetime budget's window null. A window this does not know is left out rather than guessed. */
function windowOf(resetInterval: string | null): ResetPeriod | undefined {
  if (resetInterval === null) return 'never';
  return resetInterval === 'daily' || resetInterval === 'weekly' || resetInterval === 'monthly' ? resetInterval : undefined;
}

/** OpenRouter's default: BYOK spend does not count until a budget call says it does. */
const budgetOf = (b: S.ApiWorkspaceBudget, includeByok: boolean | undefined): WorkspaceBudget => ({ limitUSD: b.limit_usd, includeByok: includeByok ?? false });

const toWorkspace = (w: { id: string; slug: string; name: string }): Workspace => ({ id: w.id, slug: w.slug, name: w.name });

export class OpenRouterWorkspaces implements Workspaces {
  private readonly client: OpenRouterClient;

  constructor(client: OpenRouterClient) {
    this.client = client;
  }

  async get(idOrSlug: string): Promise<Workspace | undefined> {
    try {
      return toWorkspace((await this.client.request('GET', 'GET /workspaces/{id}', path(idOrSlug), S.Workspace)).data);
    } catch (e) {
      if (isOpenRouter(e, 'notFound')) return undefined;
      throw e;
    }
  }

  async create(name: string, slug: string): Promise<Workspace> {
    return toWorkspace((await this.client.request('POST', 'POST /workspaces', '/workspaces', S.Workspace, { name, slug })).data);
  }

  delete(idOrSlug: string): Promise<void> {
    return goneIsDone(this.client.request('DELETE', 'DELETE /workspaces/{id}', path(idOrSlug), S.Deleted));
  }

  async budgets(idOrSlug: string): Promise<WorkspaceBudgets> {
    const r = await this.client.request('GET', 'GET /workspaces/{id}/budgets', `${path(idOrSlug)}/budgets`, S.WorkspaceBudgetList);
    const out: WorkspaceBudgets = {};
    for (const b of r.data) {
      const window = windowOf(b.reset_interval);
      if (window) out[window] = budgetOf(b, r.include_byok_in_budgets);
    }
    return out;
  }

  async putBudget(idOrSlug: string, window: ResetPeriod, limitUSD: number, includeByok: boolean): Promise<WorkspaceBudget> {
    const body = { limit_usd: limitUSD, include_byok_in_budgets: includeByok };
    const r = await this.client.request('PUT', 'PUT /workspaces/{id}/budgets/{interval}', budgetPath(idOrSlug, window), S.WorkspaceBudgetEnvelope, body);
    // the flag was just set: an answer that leaves it out still means what was sent
    return budgetOf(r.data, r.include_byok_in_budgets ?? includeByok);
  }

  deleteBudget(idOrSlug: string, window: ResetPeriod): Promise<void> {
    return goneIsDone(this.client.request('DELETE', 'DELETE /workspaces/{id}/budgets/{interval}', budgetPath(idOrSlug, window), S.Deleted));
  }
}

const path = (idOrSlug: string) => `/workspaces/${encodeURIComponent(idOrSlug)}`;
const budgetPath = (idOrSlug: string, window: ResetPeriod) => `${path(idOrSlug)}/budgets/${interval(window)}`;
