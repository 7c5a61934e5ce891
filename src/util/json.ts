export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/**
 * A plain-JSON copy of a value, as JSON.parse(JSON.stringify(value)) makes it (undefined fields dropped, dates as
 * strings, non-finite numbers as null) in one walk: the round trip through text was a third of an idle
 * member pass.
 */
export function toJson(value: unknown): Json {
  return copy(value ?? null, false) ?? null;
}

/** undefined: a value JSON leaves out of an object (and writes as null in an array). */
function copy(v: unknown, inArray: boolean): Json | undefined {
  if (v === null) return null;
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return v;
    case 'number':
      return Number.isFinite(v) ? v + 0 : null; // + 0: -0 is written as 0
    case 'undefined':
    case 'function':
    case 'symbol':
      return inArray ? null : undefined;
    case 'bigint':
      throw new Error('not JSON: a bigint');
    case 'object':
      break;
  }
  const toJSON: unknown = Reflect.get(v, 'toJSON');
  if (typeof toJSON === 'function') return copy(Reflect.apply(toJSON, v, []), inArray);
  if (Array.isArray(v)) return v.map((x: unknown) => copy(x, true) ?? null);
  const out: { [k: string]: Json } = {};
  for (const [k, x] of Object.entries(v)) {
    const c = copy(x, false);
    if (c !== undefined) out[k] = c;
  }
  return out;
}
