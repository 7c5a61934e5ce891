/**
 * One copy of the strings cached objects repeat. JSON.parse gives every object its own copy of each value: at
 * 10,000 members the same condition reasons and messages, the time one pass wrote into six conditions, the API
 * version and the owner's kind were about 1 KB a member. Strings are immutable, so sharing them is invisible.
 */

/**
 * Fields whose values are one object's own (ids, versions, names, digests), and a Secret's data: never worth a
 * table entry, and key material stays out of a table that outlives its Secret.
 */
const OWN = new Set(['uid', 'resourceVersion', 'name', 'generateName', 'hash', 'keyHash', 'label', 'pendingKey', 'selfLink', 'teamkeys.dev/member', 'teamkeys.dev/key-hash', 'teamkeys.dev/key-hmac', 'data', 'stringData']);
/** Longer values are rare and mostly one object's own. */
const LONGEST = 128;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

export class Interner {
  private table = new Map<string, string>();
  private readonly capacity: number;

  /** `size`: entries kept; when full the table starts again (what was shared stays shared). */
  constructor(size = 8_192) {
    this.capacity = size;
  }

  /** how many values the table holds now */
  get size(): number {
    return this.table.size;
  }

  of(s: string): string {
    const have = this.table.get(s);
    if (have !== undefined) return have;
    if (this.table.size >= this.capacity) this.table = new Map();
    this.table.set(s, s);
    return s;
  }

  /** Replaces, in place, every short string of a parsed JSON value (outside OWN fields) by its one copy. */
  strings<T>(value: T): T {
    this.walk(value);
    return value;
  }

  private walk(v: unknown): void {
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const x: unknown = v[i];
        if (typeof x === 'string') {
          if (x.length <= LONGEST) v[i] = this.of(x);
        } else if (isRecord(x)) this.walk(x);
      }
      return;
    }
    if (!isRecord(v)) return;
    for (const k in v) {
      if (OWN.has(k)) continue;
      const x = v[k];
      if (typeof x === 'string') {
        if (x.length <= LONGEST) v[k] = this.of(x);
      } else if (isRecord(x)) this.walk(x);
    }
  }
}

/** The process's one table: informers' objects and OpenRouter's keys repeat the same values. */
export const shared = new Interner();
