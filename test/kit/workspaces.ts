/**
 * OpenRouter's workspaces over a Map, behind the Workspaces port (src/domain/workspace.ts): what the adapter does
 * against the real service, refusals included (a slug taken, the default workspace, a workspace with enabled keys,
 * budget limits out of order), with every call recorded and a knob for a failing call. The refusals are checked
 * against the emulator by test/emulator/workspace-port.test.ts, which runs the same cases on both.
 */
import type { Workspace, WorkspaceBudget, WorkspaceBudgets, Workspaces } from '../../src/domain/workspace.ts';
import { OpenRouterError, kindOfStatus } from '../../src/openrouter/errors.ts';
import type { ResetPeriod } from '../../src/util/windows.ts';

/** Narrowest first: limits must strictly increase along it. */
const WINDOWS = ['daily', 'weekly', 'monthly', 'never'] as const satisfies readonly ResetPeriod[];

export interface WorkspaceCall {
  method: 'get' | 'create' | 'delete' | 'budgets' | 'putBudget' | 'deleteBudget';
  idOrSlug?: string | undefined;
}

interface Stored extends Workspace {
  limits: Partial<Record<ResetPeriod, number>>;
  includeByok: boolean;
}

export const DEFAULT_WORKSPACE: Workspace = { id: '00000000-0000-4000-8000-000000000000', slug: 'default', name: 'Default' };

const refused = (route: string, status: number, message: string) => new OpenRouterError(kindOfStatus(status), route, `${status} ${message}`, status);
const notFound = (route: string) => refused(route, 404, 'Resource not found');

export class FakeWorkspaces implements Workspaces {
  private readonly spaces: Stored[] = [{ ...DEFAULT_WORKSPACE, limits: {}, includeByok: false }];
  private n = 0;
  /** how many enabled keys a workspace holds: link it to the fake keys (FakeKeys.all()) when a test needs refusals */
  private readonly activeKeys: (workspaceId: string) => number;
  readonly calls: WorkspaceCall[] = [];
  /** the next call of any kind fails with this status (429: rate limited) */
  failNextCall: number | undefined;

  constructor(activeKeys: (workspaceId: string) => number = () => 0) {
    this.activeKeys = activeKeys;
  }

  /** What OpenRouter holds now, as the dashboard would show it (undefined: no such workspace). */
  budgetsOf(idOrSlug: string): WorkspaceBudgets | undefined {
    const w = this.find(idOrSlug);
    return w && view(w);
  }

  async get(idOrSlug: string): Promise<Workspace | undefined> {
    this.call('get', idOrSlug);
    const w = this.find(idOrSlug);
    return w && { id: w.id, slug: w.slug, name: w.name };
  }

  async create(name: string, slug: string): Promise<Workspace> {
    this.call('create');
    if (name.length < 1 || name.length > 100) throw refused('POST /workspaces', 400, 'Invalid request parameters: name');
    if (slug.length > 50 || !/^[a-z0-9]+(?:-[a-z0-9]+)*$/.test(slug)) throw refused('POST /workspaces', 400, 'Invalid request parameters: slug');
    if (this.find(slug)) throw refused('POST /workspaces', 400, `Invalid request parameters: slug ${slug} is taken`);
    const w: Stored = { id: `00000000-0000-4000-8000-${String(++this.n).padStart(12, '0')}`, slug, name, limits: {}, includeByok: false };
    this.spaces.push(w);
    return { id: w.id, slug, name };
  }

  async delete(idOrSlug: string): Promise<void> {
    this.call('delete', idOrSlug);
    const w = this.find(idOrSlug);
    if (!w) return;
    if (w.id === DEFAULT_WORKSPACE.id) throw refused('DELETE /workspaces/{id}', 403, 'The default workspace cannot be deleted');
    if (this.activeKeys(w.id) > 0) throw refused('DELETE /workspaces/{id}', 400, `Workspace ${w.slug} has active API keys`);
    this.spaces.splice(this.spaces.indexOf(w), 1);
  }

  async budgets(idOrSlug: string): Promise<WorkspaceBudgets> {
    this.call('budgets', idOrSlug);
    return view(this.found('GET /workspaces/{id}/budgets', idOrSlug));
  }

  async putBudget(idOrSlug: string, window: ResetPeriod, limitUSD: number, includeByok: boolean): Promise<WorkspaceBudget> {
    this.call('putBudget', idOrSlug);
    const route = 'PUT /workspaces/{id}/budgets/{interval}';
    const w = this.found(route, idOrSlug);
    if (!(limitUSD > 0)) throw refused(route, 400, 'Invalid request parameters: limit_usd');
    const limits = { ...w.limits, [window]: limitUSD };
    const present = WINDOWS.flatMap((x) => (limits[x] === undefined ? [] : [limits[x]]));
    if (present.some((l, i) => i > 0 && l <= present[i - 1]!)) throw refused(route, 400, 'Invalid request parameters: budget limits must strictly decrease as the interval narrows');
    w.limits = limits;
    w.includeByok = includeByok;
    return { limitUSD, includeByok };
  }

  async deleteBudget(idOrSlug: string, window: ResetPeriod): Promise<void> {
    this.call('deleteBudget', idOrSlug);
    const w = this.find(idOrSlug);
    if (w) delete w.limits[window];
  }

  private find(idOrSlug: string): Stored | undefined {
    return this.spaces.find((w) => w.id === idOrSlug || w.slug === idOrSlug);
  }

  private found(route: string, idOrSlug: string): Stored {
    const w = this.find(idOrSlug);
    if (!w) throw notFound(route);
    return w;
  }

  private call(method: WorkspaceCall['method'], idOrSlug?: string): void {
    this.calls.push({ method, idOrSlug });
    if (this.failNextCall === undefined) return;
    const status = this.failNextCall;
    this.failNextCall = undefined;
    throw refused(`${method} workspace`, status, `failed (${status})`);
  }
}

function view(w: Stored): WorkspaceBudgets {
  const out: WorkspaceBudgets = {};
  for (const x of WINDOWS) {
    const limitUSD = w.limits[x];
    if (limitUSD !== undefined) out[x] = { limitUSD, includeByok: w.includeByok };
  }
  return out;
}
