/** util/intern.ts: sharing strings changes no value a decision reads. */
import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { Interner } from '../../src/util/intern.ts';

const member = (name: string) => JSON.parse(JSON.stringify({
  apiVersion: 'teamkeys.dev/v1alpha1', kind: 'TeamMember',
  metadata: { name, namespace: 'team', uid: `uid-${name}`, finalizers: ['teamkeys.dev/revoke-key'], labels: { 'teamkeys.dev/member': name } },
  spec: { policy: 'gold', tags: ['a', 'b'], nested: [[1, 'x'], { deep: 'y' }] },
  status: { conditions: [{ type: 'Ready', status: 'True', reason: 'KeyReady', message: 'spent 0 of 5 USD', lastTransitionTime: '2026-12-07T21:05:50.092Z' }], key: { hash: 'f'.repeat(64), disabled: false, limitUSD: 5 }, long: 'z'.repeat(500) },
})) as Record<string, unknown>;

/** As a Ready member is cached: six conditions written in one pass, its key, its owner's finalizer. */
const cached = (name: string) => JSON.parse(JSON.stringify({
  apiVersion: 'teamkeys.dev/v1alpha1', kind: 'TeamMember',
  metadata: { name, namespace: 'team', uid: `2f1c0d6e-0000-4000-8000-${name.padStart(12, '0')}`, resourceVersion: name, generation: 1, creationTimestamp: '2026-12-07T21:05:49Z', finalizers: ['teamkeys.dev/revoke-key'] },
  spec: { policy: 'gold' },
  status: {
    observedGeneration: 1,
    conditions: [['Ready', 'KeyReady', 'the key is in the Secret'], ['WithinBudget', 'WithinBudget', 'spent 0 of 5 USD'], ['NotExpired', 'NotExpired', 'the key has not reached its hard end'], ['BudgetForecast', 'NoSpend', 'no spend to extrapolate'], ['BudgetExhausted', 'WithinBudget', 'spent 0 of 5 USD'], ['Rotating', 'Idle', 'no rotation in flight']]
      .map(([type, reason, message]) => ({ type, status: 'True', reason, message, lastTransitionTime: '2026-12-07T21:05:50.092Z', observedGeneration: 1 })),
    key: { hash: name.padEnd(64, 'f'), name: `teamkeys/c/team/${name}/u/1`, label: 'sk-or-v1-abc...xyz', createdAt: '2026-12-07T21:05:50.021Z', issuedAt: '2026-12-07T21:05:50.001Z', disabled: false, limitUSD: 5, reset: 'monthly', includeByok: false },
  },
})) as Record<string, unknown>;

describe('Interner', () => {
  it('leaves every value as it was: strings, numbers, booleans, arrays of arrays', () => {
    const i = new Interner();
    for (const name of ['ana', 'bo']) {
      const o = member(name);
      expect(i.strings(o)).toEqual(member(name));
    }
  });
  it('holds one copy of what 20,000 cached members repeat: their heap shrinks by a quarter or more', () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const heldBy = (keep: (o: Record<string, unknown>) => Record<string, unknown>) => {
      gc();
      const before = process.memoryUsage().heapUsed;
      const held = Array.from({ length: 20_000 }, (_, k) => keep(cached(`m${k}`)));
      gc();
      const bytes = process.memoryUsage().heapUsed - before;
      expect(held).toHaveLength(20_000);
      return bytes;
    };
    const plain = heldBy((o) => o);
    const i = new Interner();
    const shared = heldBy((o) => i.strings(o));
    expect(shared).toBeLessThan(plain * 0.75);
  });
  it("keeps a Secret's data and its ids out of the table (key material never outlives its Secret there)", () => {
    const i = new Interner();
    i.strings({ metadata: { namespace: 'team', name: 'ana-openrouter', uid: 'u-1' }, data: { OPENROUTER_API_KEY: 'c2stb3ItdjEtZmFrZQ==' } });
    expect(i.size).toBe(1); // the namespace
  });
  it('takes nothing that is not a parsed JSON object or array', () => {
    const i = new Interner();
    expect(i.strings('plain')).toBe('plain');
    expect(i.strings(null)).toBeNull();
    expect(i.strings(3)).toBe(3);
  });
});
