import { z } from 'zod';
import type { Faults } from '../faults.ts';
import { ok, parse, type Route } from '../router.ts';
import type { Store } from '../store.ts';
import { keyView } from '../views.ts';
import { boolParam, pageOf, pageParams } from './query.ts';

const Reset = z.enum(['daily', 'weekly', 'monthly']).nullable();
/** OpenRouter rejects other time zones and (per its SDK) timestamps without seconds. */
const UtcTimestamp = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]00:00)$/, 'must be an ISO-8601 UTC timestamp with seconds, e.g. 2027-12-31T23:59:59Z')
  .refine((s) => !Number.isNaN(Date.parse(s)), 'is not a valid date');

const CreateKeyBody = z.object({
  name: z.string().min(1, 'must not be empty'),
  limit: z.number().min(0).nullable().optional(),
  limit_reset: Reset.optional(),
  include_byok_in_limit: z.boolean().optional(),
  expires_at: UtcTimestamp.nullable().optional(),
  creator_user_id: z.string().min(1).nullable().optional(),
  workspace_id: z.string().min(1).optional(),
  external: z.object({ user: z.string().min(1), api_key: z.string().min(32).optional() }).optional(),
});

const UpdateKeyBody = z.object({
  name: z.string().optional(),
  disabled: z.boolean().optional(),
  limit: z.number().min(0).nullable().optional(),
  limit_reset: Reset.optional(),
  include_byok_in_limit: z.boolean().optional(),
});

const toIso = (s: string | null | undefined): string | null | undefined =>
  s === null || s === undefined ? s : new Date(Date.parse(s)).toISOString().replace(/\.000Z$/, 'Z');

/** `faults`: for listShift, which serves a later page as if keys were deleted since the page before it. */
export function keyRoutes(store: Store, faults?: Pick<Faults, 'shift'>): Route[] {
  return [
    {
      method: 'GET',
      path: '/api/v1/keys',
      auth: 'management',
      handle: ({ url }) => {
        const { offset } = pageParams(url, undefined);
        const keys = store.listKeys({
          workspaceId: url.searchParams.get('workspace_id') ?? undefined,
          includeDisabled: boolParam(url, 'include_disabled'),
        });
        const now = store.now();
        const skipped = faults?.shift('GET /api/v1/keys', offset) ?? 0;
        return ok({ data: pageOf(keys, offset + skipped, 100).map((k) => keyView(k, now)) });
      },
    },
    {
      method: 'POST',
      path: '/api/v1/keys',
      auth: 'management',
      handle: async (ctx) => {
        const b = parse(CreateKeyBody, await ctx.json());
        const { key, secret } = store.createKey({
          name: b.name,
          limit: b.limit,
          limitReset: b.limit_reset,
          includeByokInLimit: b.include_byok_in_limit,
          expiresAt: toIso(b.expires_at),
          creatorUserId: b.creator_user_id,
          workspaceId: b.workspace_id,
          externalUser: b.external?.user,
        });
        return ok({ data: keyView(key, store.now()), key: secret }, 201);
      },
    },
    {
      method: 'GET',
      path: '/api/v1/keys/:hash',
      auth: 'management',
      handle: ({ params }) => ok({ data: keyView(store.getKey(params['hash'] ?? ''), store.now()) }),
    },
    {
      method: 'PATCH',
      path: '/api/v1/keys/:hash',
      auth: 'management',
      handle: async (ctx) => {
        const hash = ctx.params['hash'] ?? '';
        store.getKey(hash); // 404 before 400, as a missing resource outranks a bad body
        const b = parse(UpdateKeyBody, await ctx.json());
        const k = store.updateKey(hash, {
          name: b.name,
          disabled: b.disabled,
          limit: b.limit,
          limitReset: b.limit_reset,
          includeByokInLimit: b.include_byok_in_limit,
        });
        return ok({ data: keyView(k, store.now()) });
      },
    },
    {
      method: 'DELETE',
      path: '/api/v1/keys/:hash',
      auth: 'management',
      handle: ({ params }) => {
        store.deleteKey(params['hash'] ?? '');
        return ok({ deleted: true });
      },
    },
  ];
}
