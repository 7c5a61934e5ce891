import { describe, expect, it } from 'vitest';
import { findOrphans, type OwnerView } from '../../src/controller/sweep.ts';
import type { Key } from '../../src/domain/key.ts';
import { aKey } from '../kit/keys.ts';

describe('orphan detection', () => {
  const k = (name: string, created = '2026-01-01T00:00:00Z', hash = name) => aKey(hash, { name, createdAt: created });
  const now = Date.parse('2026-01-01T01:00:00Z');
  const owners: Record<string, OwnerView> = {
    'ns/alice': { uid: 'u1', keyHash: 'current', pendingName: 'teamkeys/c/ns/alice/u1/3', impliedSeq: undefined, previous: ['draining'] },
    // no key in status yet: its first key (seq 1) is in flight under the implied intent, an older one is not
    'ns/dora': { uid: 'u4', keyHash: undefined, pendingName: undefined, impliedSeq: 2, previous: [] },
  };
  const find = (keys: Key[]) => findOrphans(keys, 'c', (ns, name) => owners[`${ns}/${name}`], now, 600_000).map((x) => x.name);
  it('revokes only unowned keys of this cluster, past the grace period', () => {
    expect(find([
      k('teamkeys/c/ns/alice/u1/1', undefined, 'current'),
      k('teamkeys/c/ns/alice/u1/2', undefined, 'old'),
      k('teamkeys/c/ns/alice/u1/3', undefined, 'pending'),
      k('teamkeys/c/ns/alice/u1/4', undefined, 'draining'),
      k('teamkeys/c/ns/alice/u0/1'),
      k('teamkeys/c/ns/bob/u2/1'),
      k('teamkeys/c/ns/bob/u2/2', '2026-01-01T00:55:00Z'),
      k('teamkeys/other/ns/bob/u2/1'),
      k('released:teamkeys/c/ns/carl/u3/1'),
      k('hand made'),
      k('teamkeys/c/ns/dora/u4/1'),
      k('teamkeys/c/ns/dora/u4/2'),
    ])).toEqual(['teamkeys/c/ns/alice/u1/2', 'teamkeys/c/ns/alice/u0/1', 'teamkeys/c/ns/bob/u2/1', 'teamkeys/c/ns/dora/u4/1']);
  });
});
