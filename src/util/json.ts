import { z } from 'zod';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const JsonValue: z.ZodType<Json> = z.json();

/** A plain-JSON copy of a value: undefined fields dropped, dates as strings, checked rather than asserted. */
export function toJson(value: unknown): Json {
  return JsonValue.parse(JSON.parse(JSON.stringify(value ?? null)));
}
