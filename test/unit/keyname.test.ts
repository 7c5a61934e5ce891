import { describe, expect, it } from 'vitest';
import { clusterPrefix, keyName, parseKeyName } from '../../src/controller/keyname.ts';

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
