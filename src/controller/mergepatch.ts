import type { Json } from '../util/json.ts';

/**
 * The JSON merge patch (RFC 7386) that turns `from` into `to`: changed fields, nulls for removed ones, arrays
 * whole. Returns undefined when nothing changed, which is how "write status only when it changed" is decided.
 */
export function mergePatch(from: Json | undefined, to: Json | undefined): Json | undefined {
  if (isObject(from) && isObject(to)) {
    const out: { [k: string]: Json } = {};
    for (const k of Object.keys(from)) if (!(k in to) || to[k] === undefined) out[k] = null;
    for (const [k, v] of Object.entries(to)) {
      if (v === undefined) continue;
      const d = mergePatch(from[k], v);
      if (d !== undefined) out[k] = d;
    }
    return Object.keys(out).length > 0 ? out : undefined;
  }
  if (deepEqual(from, to)) return undefined;
  return to === undefined ? null : to;
}

function isObject(v: Json | undefined): v is { [k: string]: Json } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a).filter((k) => Reflect.get(a, k) !== undefined);
  const kb = Object.keys(b).filter((k) => Reflect.get(b, k) !== undefined);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => deepEqual(Reflect.get(a, k), Reflect.get(b, k)));
}
