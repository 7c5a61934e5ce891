import { z } from 'zod';
import { parse } from '../router.ts';

/** Query-string parameters are strings on the wire; these coerce and bound them with a 400 on bad input. */
const intParam = (min: number, max: number) => z.string().regex(/^\d+$/, 'must be a non-negative integer').transform(Number).pipe(z.int().min(min).max(max));

export function pageParams(url: URL, maxLimit: number | undefined): { offset: number; limit: number } {
  const q = Object.fromEntries(url.searchParams);
  const schema = z.object({
    offset: intParam(0, Number.MAX_SAFE_INTEGER).optional(),
    limit: intParam(1, maxLimit ?? 100).optional(),
  });
  const p = parse(schema, q);
  return { offset: p.offset ?? 0, limit: maxLimit === undefined ? 100 : (p.limit ?? 50) };
}

export function boolParam(url: URL, name: string): boolean {
  const v = url.searchParams.get(name);
  if (v === null) return false;
  return parse(z.object({ [name]: z.enum(['true', 'false']) }), { [name]: v })[name] === 'true';
}

export function pageOf<T>(items: readonly T[], offset: number, limit: number): T[] {
  return items.slice(offset, offset + limit);
}
