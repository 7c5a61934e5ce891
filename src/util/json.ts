export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** A plain-JSON copy of a value: undefined fields dropped, dates as strings. (JSON.parse yields only JSON.) */
export function toJson(value: unknown): Json {
  return JSON.parse(JSON.stringify(value ?? null)) as Json;
}
