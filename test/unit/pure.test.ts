import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { crdFiles } from '../../src/api/crd.ts';
import { clusterPrefix, keyName, parseKeyName } from '../../src/controller/keyname.ts';
import { mergePatch } from '../../src/controller/mergepatch.ts';
import { matchesSelector } from '../../src/controller/selector.ts';
import { previewMatches } from '../../src/controller/member/secret.ts';
import { findOrphans, type OwnerView } from '../../src/controller/sweep.ts';
import { parseDuration } from '../../src/util/duration.ts';
import { loadConfig } from '../../src/config.ts';
import type { Key } from '../../src/domain/key.ts';
import { aKey } from './keys.ts';

describe('the committed CRDs', () => {
  it.each(Object.entries(crdFiles()))('%s matches src/api/schema.ts (run `node src/main.ts crds` after changing it)', (file, text) => {
    expect(readFileSync(join(import.meta.dirname, '../../crds', file), 'utf8')).toBe(text);
  });
});

describe('key names', () => {
  it('round-trip and carry the owner', () => {
    const o = { cluster: 'prod-eu', namespace: 'ml-team', member: 'alice.smith', uid: '3f2c1a9e-0000-4000-8000-000000000000', seq: 7 };
    expect(keyName(o)).toBe('teamkeys/prod-eu/ml-team/alice.smith/3f2c1a9e-0000-4000-8000-000000000000/7');
    expect(parseKeyName(keyName(o))).toEqual(o);
    expect(keyName(o).startsWith(clusterPrefix('prod-eu'))).toBe(true);
  });
  it.each(['my key', 'teamkeys/a/b/c/d', 'teamkeys/a/b/c/d/x', 'released:teamkeys/a/b/c/d/1', 'other/a/b/c/d/1'])('ignores %j', (name) => {
    expect(parseKeyName(name)).toBeUndefined();
  });
});

describe('orphan detection', () => {
  const k = (name: string, created = '2026-01-01T00:00:00Z', hash = name) => aKey(hash, { name, createdAt: created });
  const now = Date.parse('2026-01-01T01:00:00Z');
  const owners: Record<string, OwnerView> = { 'ns/alice': { uid: 'u1', keyHash: 'current', pendingName: 'teamkeys/c/ns/alice/u1/3', previous: ['draining'] } };
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
    ])).toEqual(['teamkeys/c/ns/alice/u1/2', 'teamkeys/c/ns/alice/u0/1', 'teamkeys/c/ns/bob/u2/1']);
  });
});

describe('mergePatch', () => {
  it.each([
    [{ a: 1 }, { a: 1 }, undefined],
    [{ a: 1 }, { a: 2 }, { a: 2 }],
    [{ a: 1, b: 2 }, { a: 1 }, { b: null }],
    [{ x: { y: 1, z: 2 } }, { x: { y: 1 } }, { x: { z: null } }],
    [{ l: [1, 2] }, { l: [1, 2] }, undefined],
    [{ l: [1, 2] }, { l: [2] }, { l: [2] }],
    [{}, { n: { m: 1 } }, { n: { m: 1 } }],
  ])('%j -> %j is %j', (from, to, want) => {
    expect(mergePatch(from, to)).toEqual(want);
  });
});

describe('label selectors', () => {
  const labels = { tier: 'pro', team: 'ml' };
  it.each([
    [undefined, true],
    [{}, true],
    [{ matchLabels: { tier: 'pro' } }, true],
    [{ matchLabels: { tier: 'free' } }, false],
    [{ matchExpressions: [{ key: 'tier', operator: 'In' as const, values: ['pro', 'enterprise'] }] }, true],
    [{ matchExpressions: [{ key: 'tier', operator: 'NotIn' as const, values: ['pro'] }] }, false],
    [{ matchExpressions: [{ key: 'team', operator: 'Exists' as const }] }, true],
    [{ matchExpressions: [{ key: 'team', operator: 'DoesNotExist' as const }] }, false],
  ])('%j matches: %s', (selector, want) => {
    expect(matchesSelector(selector, labels)).toBe(want);
  });
});

describe('config and durations', () => {
  it('parses durations', () => {
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('2160h')).toBe(7_776_000_000);
    expect(() => parseDuration('5 minutes')).toThrow(/invalid duration/);
  });
  it('reads flags over environment and names a bad value', () => {
    expect(loadConfig(['--cluster-id', 'prod'], { TEAMKEYS_CLUSTER_ID: 'env', POD_NAMESPACE: 'ops' })).toMatchObject({ clusterId: 'prod', namespace: 'ops', workers: 16 });
    expect(() => loadConfig([], { TEAMKEYS_CLUSTER_ID: 'Not OK' })).toThrow(/clusterId: cluster id must be a lowercase DNS label/);
    expect(() => loadConfig(['--workers', '0'], {})).toThrow(/workers/);
    expect(() => loadConfig(['--bogus', 'x'], {})).toThrow(/bogus/);
    expect(loadConfig([], { TEAMKEYS_LEASE_DURATION: '4s' })).toMatchObject({ leaseDuration: '4s' });
    expect(() => loadConfig(['--lease-duration', '1s'], {})).toThrow(/leaseDuration: lease duration must be at least 2s/);
  });
});

describe('key previews', () => {
  const key = `sk-or-v1-${'ab12'.repeat(16)}`;
  it('matches only the key it masks', () => {
    expect(previewMatches(`sk-or-v1-${key.slice(9, 12)}...${key.slice(-3)}`, key)).toBe(true);
    expect(previewMatches(`sk-or-v1-fff...${key.slice(-3)}`, key)).toBe(false);
    expect(previewMatches('Production key', key)).toBe(false);
  });
});
