/**
 * The controller's view of an OpenRouter workspace and its budgets, and the narrow port it reaches them through.
 * Wire names (`limit_usd`, the `lifetime` interval, `include_byok_in_budgets`) stay in openrouter/workspaces.ts.
 */
import type { ResetPeriod } from '../util/windows.ts';

export interface Workspace {
  id: string;
  slug: string;
  name: string;
}

/**
 * A cap on what all of a workspace's keys spend together in one window (`never`: a lifetime budget). OpenRouter
 * refuses every key of the workspace (403) once one window's cap is reached, before the key's own limit.
 */
export interface WorkspaceBudget {
  limitUSD: number;
  /** workspace-wide at OpenRouter: every window of one workspace reads the same */
  includeByok: boolean;
}

/** A workspace's budgets by window; a window without a budget is absent. OpenRouter reports no spend with them. */
export type WorkspaceBudgets = Partial<Record<ResetPeriod, WorkspaceBudget>>;

/**
 * What the controller needs from OpenRouter's workspaces. Failures are OpenRouterErrors: a workspace that still has
 * enabled keys refuses deletion (badRequest), the default workspace too (forbidden), and limits that do not
 * strictly decrease as the window narrows (lifetime > monthly > weekly > daily) refuse a budget (badRequest).
 */
export interface Workspaces {
  /** undefined when there is no such workspace */
  get(idOrSlug: string): Promise<Workspace | undefined>;
  /** Never retried; a slug already taken is refused (badRequest). */
  create(name: string, slug: string): Promise<Workspace>;
  /** A workspace already gone counts as deleted. Its budgets and guardrails go with it. */
  delete(idOrSlug: string): Promise<void>;
  budgets(idOrSlug: string): Promise<WorkspaceBudgets>;
  /** Creates or replaces one window's budget; includeByok applies to every window of the workspace. */
  putBudget(idOrSlug: string, window: ResetPeriod, limitUSD: number, includeByok: boolean): Promise<WorkspaceBudget>;
  /** A budget (or workspace) already gone counts as deleted. */
  deleteBudget(idOrSlug: string, window: ResetPeriod): Promise<void>;
}
