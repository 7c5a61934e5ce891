import { describe, expect, it } from 'vitest';
import { offboardee, parseMember } from '../../src/api/objects.ts';

const raw = (spec: unknown, status?: unknown) => ({
  apiVersion: 'teamkeys.dev/v1alpha1', kind: 'TeamMember',
  metadata: { name: 'sam', namespace: 'team', uid: 'u1', finalizers: ['teamkeys.dev/revoke-key'], deletionTimestamp: '2026-01-01T00:00:00Z' },
  spec, ...(status === undefined ? {} : { status }),
});

describe('offboardee: what offboarding needs, read field by field', () => {
  it('reads a member whose spec does not parse as a whole', () => {
    const o = raw({ policy: 'pro', limitUSD: 2_000_000, suspended: true }, { key: { hash: 'h1', name: 'teamkeys/c/team/sam/u1/1', disabled: false } });
    expect(parseMember(o)?.ok).toBe(false);
    expect(offboardee(o)).toEqual({
      kind: 'TeamMember', metadata: o.metadata, policy: 'pro', suspended: true, secretName: 'sam-openrouter',
      key: { hash: 'h1', name: 'teamkeys/c/team/sam/u1/1', disabled: false }, pendingName: undefined, previous: [],
    });
  });
  it.each([
    ['a suspended flag that is not a boolean is not read as true', { policy: 'p', suspended: 'yes' }, undefined, { suspended: false }],
    ['a status that does not parse still yields its key hash', { policy: 'p' }, { key: { hash: 'h2', reset: 'hourly' }, keySeq: -1 }, { key: { hash: 'h2', name: undefined, disabled: undefined } }],
    ['a pending create is found', { policy: 'p' }, { pendingKey: { name: 'teamkeys/c/team/sam/u1/2' } }, { pendingName: 'teamkeys/c/team/sam/u1/2' }],
    ['previous keys that may still exist are found; deleted ones are not', { policy: 'p' }, { previousKeys: [{ hash: 'p1', name: 'n1', state: 'Draining' }, { hash: 'p2', state: 'Disabled' }, { hash: 'p3', state: 'Deleted' }] }, { previous: [{ hash: 'p1', name: 'n1' }, { hash: 'p2', name: undefined }] }],
    ['a custom Secret name is kept', { policy: 'p', secretName: 'sam-key' }, undefined, { secretName: 'sam-key' }],
    ['a policy of the wrong type is unknown', { policy: 7 }, undefined, { policy: undefined }],
    ['no spec at all', undefined, undefined, { policy: undefined, suspended: false, secretName: 'sam-openrouter' }],
  ])('%s', (_what, spec, status, want) => {
    expect(offboardee(raw(spec, status))).toMatchObject(want);
  });
  it('refuses an object without a name or uid', () => {
    expect(offboardee({ metadata: { name: 'x' }, spec: {} })).toBeUndefined();
  });
});
