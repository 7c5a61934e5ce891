/** The adapter between OpenRouter's wire format and the controller's Key. */
import type { Key, KeyChange, KeyPort, NewKey } from '../domain/key.ts';
import { shared } from '../util/intern.ts';
import type { ResetPeriod } from '../util/windows.ts';
import type { OpenRouterClient } from './client.ts';
import type { ApiKey, LimitReset, UpdateKeyRequest } from './schemas.ts';

function toLimitReset(reset: ResetPeriod): LimitReset {
  return reset === 'never' ? null : reset;
}

/** OpenRouter reports no reset as null; anything it might add later reads as "never" rather than a guess. */
function fromLimitReset(reset: string | null): ResetPeriod {
  return reset === 'daily' || reset === 'weekly' || reset === 'monthly' ? reset : 'never';
}

export function toKey(k: ApiKey): Key {
  return {
    hash: k.hash,
    name: k.name,
    label: k.label,
    disabled: k.disabled,
    limitUSD: k.limit ?? undefined,
    limitRemainingUSD: k.limit_remaining ?? undefined,
    reset: fromLimitReset(k.limit_reset),
    includeByok: k.include_byok_in_limit,
    usage: { daily: k.usage_daily, weekly: k.usage_weekly, monthly: k.usage_monthly, total: k.usage },
    byok: { daily: k.byok_usage_daily, weekly: k.byok_usage_weekly, monthly: k.byok_usage_monthly, total: k.byok_usage },
    createdAt: k.created_at,
    expiresAt: k.expires_at ?? undefined,
    // one copy of each workspace's id for all its keys (util/intern.ts)
    workspaceId: k.workspace_id === undefined ? undefined : shared.of(k.workspace_id),
  };
}

function toUpdate(c: KeyChange): UpdateKeyRequest {
  return {
    ...(c.name === undefined ? {} : { name: c.name }),
    ...(c.disabled === undefined ? {} : { disabled: c.disabled }),
    ...(c.limitUSD === undefined ? {} : { limit: c.limitUSD }),
    ...(c.reset === undefined ? {} : { limit_reset: toLimitReset(c.reset) }),
    ...(c.includeByok === undefined ? {} : { include_byok_in_limit: c.includeByok }),
  };
}

export class OpenRouterKeys implements KeyPort {
  private readonly client: OpenRouterClient;

  constructor(client: OpenRouterClient) {
    this.client = client;
  }

  async *list(opts: { workspaceId?: string | undefined } = {}): AsyncGenerator<Key> {
    for await (const k of this.client.listKeys(opts)) yield toKey(k);
  }

  async get(hash: string): Promise<Key> {
    return toKey(await this.client.getKey(hash));
  }

  async create(spec: NewKey): Promise<{ key: Key; secret: string }> {
    const r = await this.client.createKey({
      name: spec.name,
      limit: spec.limitUSD ?? null,
      limit_reset: toLimitReset(spec.reset),
      include_byok_in_limit: spec.includeByok,
      expires_at: spec.expiresAt ?? null,
      ...(spec.workspaceId ? { workspace_id: spec.workspaceId } : {}),
    });
    return { key: toKey(r.key), secret: r.secret };
  }

  async update(hash: string, change: KeyChange): Promise<Key> {
    return toKey(await this.client.updateKey(hash, toUpdate(change)));
  }

  delete(hash: string): Promise<void> {
    return this.client.deleteKey(hash);
  }

  workspaceId(idOrSlug: string): Promise<string> {
    return this.client.workspaceId(idOrSlug);
  }
}
