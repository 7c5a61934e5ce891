import type { IncomingMessage } from 'node:http';
import type { z } from 'zod';
import { HttpError } from './errors.ts';
import type { KeyRecord } from './state.ts';

/** Who may call a route: a management key, any live key, a member (non-management) key, or anyone. */
export type Auth = 'management' | 'any' | 'member' | 'none';

export interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export interface Ctx {
  req: IncomingMessage;
  url: URL;
  params: Record<string, string>;
  /** the authenticated key; set for every route whose auth is not 'none' */
  key: KeyRecord | undefined;
  json: () => Promise<unknown>;
}

export interface Route {
  method: string;
  /** path template, `:name` segments are parameters */
  path: string;
  auth: Auth;
  /** true for the emulator's own control routes: no faults, not counted as OpenRouter traffic */
  control?: boolean;
  handle: (ctx: Ctx) => Promise<Reply> | Reply;
}

export function routeId(r: Route): string {
  return `${r.method} ${r.path.replace(/:(\w+)/g, '{$1}')}`;
}

export function match(routes: readonly Route[], method: string, pathname: string): { route: Route; params: Record<string, string> } | { allowed: string[] } | undefined {
  const segs = pathname.replace(/\/+$/, '').split('/');
  const allowed: string[] = [];
  for (const route of routes) {
    const tpl = route.path.split('/');
    if (tpl.length !== segs.length) continue;
    const params: Record<string, string> = {};
    let same = true;
    for (let i = 0; i < tpl.length && same; i++) {
      const t = tpl[i]!;
      const s = segs[i]!;
      if (t.startsWith(':')) params[t.slice(1)] = decodeURIComponent(s);
      else same = t === s;
    }
    if (!same) continue;
    if (route.method === method) return { route, params };
    allowed.push(route.method);
  }
  return allowed.length > 0 ? { allowed } : undefined;
}

const MAX_BODY = 1 << 20;

export async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new HttpError(413, 'Request body too large');
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') throw new HttpError(400, 'Request body must be a JSON object');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new HttpError(400, 'Malformed JSON in request body');
  }
}

/** Parses input with a zod schema; a failure becomes a 400 naming the offending field. */
export function parse<T extends z.ZodType>(schema: T, input: unknown): z.infer<T> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const where = issue && issue.path.length > 0 ? issue.path.join('.') : 'body';
  throw new HttpError(400, `Invalid request parameters: ${where}: ${issue?.message ?? 'invalid'}`);
}

export function ok(body: unknown, status = 200): Reply {
  return { status, body };
}
