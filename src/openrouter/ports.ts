/**
 * The operator's OpenRouter side: one HTTP client (the account's rate limit, the leader's fence, a metric per call)
 * and the ports built on it. Analytics gets a lane of its own: its quota at OpenRouter is separate, and its 429s
 * must not slow key operations.
 */
import type { GuardrailPort } from '../domain/guardrail.ts';
import type { KeyPort } from '../domain/key.ts';
import type { Workspaces } from '../domain/workspace.ts';
import { monotonicClock, type Clock } from '../util/clock.ts';
import { OpenRouterAnalytics } from './analytics.ts';
import { OpenRouterClient, type OpenRouterClientOptions } from './client.ts';
import { OpenRouterGuardrails } from './guardrails.ts';
import { OpenRouterKeys } from './keys.ts';
import { RateLimiter } from './limiter.ts';
import { OpenRouterWorkspaces } from './workspaces.ts';

export interface OpenRouterPorts {
  client: OpenRouterClient;
  limiter: RateLimiter;
  keys: KeyPort;
  guardrails: GuardrailPort;
  workspaces: Workspaces;
  analytics: OpenRouterAnalytics;
}

export interface OpenRouterSettings extends Pick<OpenRouterClientOptions, 'baseUrl' | 'apiKey' | 'mayWrite' | 'observe'> {
  clock: Clock;
  perSecond: number;
  burst: number;
  analyticsPerMinute: number;
}

export function openRouterPorts(s: OpenRouterSettings): OpenRouterPorts {
  // elapsed time, not the domain clock: a clock moved by a test or stepped by NTP must not starve or flood the bucket
  const limiter = new RateLimiter(s.perSecond, s.burst, monotonicClock);
  const client = new OpenRouterClient({ baseUrl: s.baseUrl, apiKey: s.apiKey, limiter, clock: s.clock, mayWrite: s.mayWrite, observe: s.observe });
  return {
    client, limiter, keys: new OpenRouterKeys(client), guardrails: new OpenRouterGuardrails(client),
    workspaces: new OpenRouterWorkspaces(client), analytics: new OpenRouterAnalytics(client, s.analyticsPerMinute),
  };
}
