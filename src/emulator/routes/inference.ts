import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { exhaustedWindow } from '../budgets.ts';
import { HttpError } from '../errors.ts';
import { findModel } from '../catalog.ts';
import { ok, parse, type Route } from '../router.ts';
import type { Store } from '../store.ts';
import { limitRemaining } from '../usage.ts';

const ChatBody = z.object({
  model: z.string().min(1),
  messages: z.array(z.object({ role: z.string(), content: z.union([z.string(), z.array(z.unknown())]) })).min(1),
  max_tokens: z.int().positive().max(100_000).optional(),
});

const REPLY = 'Hello from the teamkeys OpenRouter emulator.';
const DEFAULT_COMPLETION_TOKENS = 20;

/** Tokens are counted as OpenRouter's docs approximate them: about four characters per token. */
function promptTokens(messages: z.infer<typeof ChatBody>['messages']): number {
  let chars = 0;
  for (const m of messages) chars += typeof m.content === 'string' ? m.content.length : JSON.stringify(m.content).length;
  return Math.max(1, Math.ceil(chars / 4));
}

/**
 * A minimal chat-completions endpoint: authenticates a member key as OpenRouter does, enforces its workspace's
 * budgets, its guardrail allowlist and its limit, charges a deterministic cost and answers a fixed message.
 */
export function inferenceRoutes(store: Store): Route[] {
  return [
    {
      method: 'POST', path: '/api/v1/chat/completions', auth: 'member',
      handle: async ({ key, json }) => {
        if (!key) throw new HttpError(401, 'User not found.');
        const body = parse(ChatBody, await json());
        const model = findModel(body.model);
        if (!model) throw new HttpError(400, `${body.model} is not a valid model ID`);
        // the workspace's shared budget is checked first: when it is spent, no key of the workspace is served
        const ws = store.workspace(key.workspaceId);
        const spent = exhaustedWindow(ws, store.state.activity, store.now());
        if (spent) {
          throw new HttpError(403, `Workspace budget exceeded (${spent} limit) for workspace ${ws.slug}. Manage it using https://openrouter.ai/workspaces/${ws.slug}/settings`);
        }
        if (!store.guardrailsAllow(key, model)) {
          throw new HttpError(404, 'No endpoints available matching your guardrail restrictions and data policy. Configure: https://openrouter.ai/settings/privacy');
        }
        const remaining = limitRemaining(key, store.now());
        if (remaining !== null && remaining <= 0) {
          const period = key.limitReset ?? 'total';
          throw new HttpError(403, `Key limit exceeded (${period} limit). Manage it using https://openrouter.ai/settings/keys`);
        }
        const prompt = promptTokens(body.messages);
        const completion = body.max_tokens ?? DEFAULT_COMPLETION_TOKENS;
        const cost = (prompt * model.promptPerM + completion * model.completionPerM) / 1e6;
        store.spend(key, { usd: cost, model, promptTokens: prompt, completionTokens: completion });
        return ok({
          id: `gen-${randomBytes(12).toString('hex')}`,
          object: 'chat.completion',
          created: Math.floor(store.now() / 1000),
          model: model.slug,
          provider: model.provider,
          choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: REPLY } }],
          usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion, cost },
        });
      },
    },
  ];
}
