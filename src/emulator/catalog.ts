/**
 * The models the emulator serves, with deterministic prices (USD per million tokens). Canonical slugs are what
 * OpenRouter returns in guardrail allowlists; both forms are accepted on input.
 */
export interface ModelEntry {
  slug: string;
  canonical: string;
  provider: string;
  /** the provider's slug, as guardrail provider lists name it */
  providerSlug: string;
  /** served by an endpoint that retains no data (zero data retention) */
  zdr: boolean;
  promptPerM: number;
  completionPerM: number;
}

const MODELS: readonly ModelEntry[] = [
  { slug: 'openai/gpt-4o-mini', canonical: 'openai/gpt-4o-mini-2024-07-18', provider: 'OpenAI', providerSlug: 'openai', zdr: false, promptPerM: 0.15, completionPerM: 0.6 },
  { slug: 'openai/gpt-4.1', canonical: 'openai/gpt-4.1-2025-04-14', provider: 'OpenAI', providerSlug: 'openai', zdr: false, promptPerM: 2, completionPerM: 8 },
  { slug: 'anthropic/claude-3.5-sonnet', canonical: 'anthropic/claude-3.5-sonnet-20241022', provider: 'Anthropic', providerSlug: 'anthropic', zdr: true, promptPerM: 3, completionPerM: 15 },
  { slug: 'anthropic/claude-sonnet-4', canonical: 'anthropic/claude-4-sonnet-20250522', provider: 'Anthropic', providerSlug: 'anthropic', zdr: true, promptPerM: 3, completionPerM: 15 },
  { slug: 'google/gemini-2.5-flash', canonical: 'google/gemini-2.5-flash', provider: 'Google', providerSlug: 'google-vertex', zdr: true, promptPerM: 0.3, completionPerM: 2.5 },
  { slug: 'meta-llama/llama-3.3-70b-instruct', canonical: 'meta-llama/llama-3.3-70b-instruct', provider: 'DeepInfra', providerSlug: 'deepinfra', zdr: false, promptPerM: 0.1, completionPerM: 0.3 },
  { slug: 'meta-llama/llama-3.3-70b-instruct:free', canonical: 'meta-llama/llama-3.3-70b-instruct:free', provider: 'Chutes', providerSlug: 'chutes', zdr: false, promptPerM: 0, completionPerM: 0 },
];

export function findModel(id: string): ModelEntry | undefined {
  return MODELS.find((m) => m.slug === id || m.canonical === id);
}

/** A stable endpoint id per model, as /activity reports one. */
export function endpointId(m: ModelEntry): string {
  let h = 0;
  for (const c of m.canonical) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  const hex = h.toString(16).padStart(8, '0');
  return `${hex}-0000-4000-8000-${hex}0000`;
}
