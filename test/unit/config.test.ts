import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';

describe('config', () => {
  it('reads flags over environment and names a bad value', () => {
    expect(loadConfig(['--cluster-id', 'prod'], { TEAMKEYS_CLUSTER_ID: 'env', POD_NAMESPACE: 'ops' })).toMatchObject({ clusterId: 'prod', namespace: 'ops', workers: 16 });
    expect(() => loadConfig([], { TEAMKEYS_CLUSTER_ID: 'Not OK' })).toThrow(/clusterId: cluster id must be a lowercase DNS label/);
    expect(() => loadConfig(['--workers', '0'], {})).toThrow(/workers/);
    expect(() => loadConfig(['--bogus', 'x'], {})).toThrow(/bogus/);
    expect(loadConfig([], { TEAMKEYS_LEASE_DURATION: '4s' })).toMatchObject({ leaseDuration: '4s' });
    expect(() => loadConfig(['--lease-duration', '1s'], {})).toThrow(/leaseDuration: lease duration must be at least 2s/);
  });
});
