export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function isJson(v: unknown): v is Json {
  if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return true;
  if (Array.isArray(v)) return v.every(isJson);
  return typeof v === 'object' && Object.values(v).every(isJson);
}

/** A plain-JSON copy of a value: undefined fields dropped, dates as strings; checked by a plain walk (a schema parse cost more than the rest of a reconcile). */
export function toJson(value: unknown): Json {
  const copy: unknown = JSON.parse(JSON.stringify(value ?? null));
  if (!isJson(copy)) throw new Error('not JSON');
  return copy;
}
