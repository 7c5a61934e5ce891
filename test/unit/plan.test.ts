import { describe, expect, it } from 'vitest';
import { planKey, recoverPending, type PlanInput } from '../../src/controller/member/plan.ts';
import { aKey } from './keys.ts';

const apiKey = aKey;
const keyRef = { hash: 'h1', name: 'n', label: 'l', createdAt: '2026-01-01T00:00:00Z', disabled: false, limitUSD: 5, reset: 'monthly' as const, includeByok: false };
const base: PlanInput = {
  status: { key: keyRef },
  wantKey: true,
  observed: apiKey('h1'),
  listedSinceKeyCreated: true,
  secret: { keyHash: 'h1', intact: true },
  outlivesAllowance: false,
  wantEnabled: true,
  onDisabledOutside: 'Replace',
  now: Date.parse('2026-06-01T00:00:00Z'),
};

describe('planKey', () => {
  it.each<[string, Partial<PlanInput>, ReturnType<typeof planKey>]>([
    ['everything in place', {}, { kind: 'keep' }],
    ['key disabled outside (a leak): never re-enabled, replaced', { observed: apiKey('h1', { disabled: true }) }, { kind: 'create', reason: 'Compromised', revoke: 'h1' }],
    ['key disabled outside, policy respects it', { observed: apiKey('h1', { disabled: true }), onDisabledOutside: 'Respect' }, { kind: 'hold' }],
    ['key marked disabled outside earlier stays held', { status: { key: { ...keyRef, disabled: true, disabledOutside: true } }, observed: apiKey('h1', { disabled: true }), onDisabledOutside: 'Respect' }, { kind: 'hold' }],
    ['key disabled by the operator itself (resuming)', { status: { key: { ...keyRef, disabled: true } }, observed: apiKey('h1', { disabled: true }) }, { kind: 'keep' }],
    ['key disabled while the member is suspended', { observed: apiKey('h1', { disabled: true }), wantEnabled: false }, { kind: 'keep' }],
    ['marked key re-enabled at OpenRouter', { status: { key: { ...keyRef, disabledOutside: true } }, onDisabledOutside: 'Respect' }, { kind: 'keep' }],
    ['a create in flight', { status: { key: keyRef, pendingKey: { name: 'x', since: 'now' } } }, { kind: 'recover' }],
    ['no key yet', { status: {} }, { kind: 'create', reason: 'Initial', revoke: undefined }],
    ['no key and none wanted (expired)', { status: {}, wantKey: false }, { kind: 'keep' }],
    ['key deleted outside', { observed: undefined }, { kind: 'create', reason: 'Deleted', revoke: undefined }],
    ['key not listed yet since it was created', { observed: undefined, listedSinceKeyCreated: false }, { kind: 'keep' }],
    ['Secret gone', { secret: undefined }, { kind: 'create', reason: 'SecretLost', revoke: 'h1' }],
    ['Secret holds another key', { secret: { keyHash: 'h0', intact: true } }, { kind: 'create', reason: 'SecretLost', revoke: 'h1' }],
    ['Secret edited by hand', { secret: { keyHash: 'h1', intact: false } }, { kind: 'create', reason: 'SecretLost', revoke: 'h1' }],
    ['expiry shortened', { outlivesAllowance: true }, { kind: 'create', reason: 'ExpiryShortened', revoke: 'h1' }],
    ['key past its expiry', { status: { key: { ...keyRef, expiresAt: '2026-05-01T00:00:00Z' } } }, { kind: 'create', reason: 'KeyExpired', revoke: 'h1' }],
  ])('%s', (_name, over, want) => {
    expect(planKey({ ...base, ...over })).toEqual(want);
  });
});

describe('recoverPending', () => {
  const a = apiKey('a');
  const b = apiKey('b');
  it('adopts the key that reached the Secret and revokes the rest', () => {
    expect(recoverPending([a, b], 'b', true)).toEqual({ adopt: b, revoke: ['a'] });
  });
  it('revokes everything when the Secret never got the key', () => {
    expect(recoverPending([a, b], undefined, false)).toEqual({ adopt: undefined, revoke: ['a', 'b'] });
  });
  it('does not adopt from a tampered Secret', () => {
    expect(recoverPending([a], 'a', false)).toEqual({ adopt: undefined, revoke: ['a'] });
  });
  it('has nothing to do when the create never reached OpenRouter', () => {
    expect(recoverPending([], undefined, false)).toEqual({ adopt: undefined, revoke: [] });
  });
});
