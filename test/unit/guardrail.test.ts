import { describe, expect, it } from 'vitest';
import { GuardrailBook } from '../../src/controller/guardrailbook.ts';
import { desiredRules, guardrailName, guardrailPrefix, modelsShown, rulesFingerprint } from '../../src/controller/policy/rules.ts';
import { sameRules, type Guardrail, type GuardrailPort } from '../../src/domain/guardrail.ts';

const spec = { deletionPolicy: 'Delete', onDisabledOutside: 'Replace' } as const;

describe('policy guardrail rules', () => {
  it('wants a guardrail only when the policy restricts something', () => {
    expect(desiredRules(spec)).toBeUndefined();
    expect(desiredRules({ ...spec, zeroDataRetention: false })).toBeUndefined();
    expect(desiredRules({ ...spec, zeroDataRetention: true })).toEqual({ zeroDataRetention: true, allowedModels: undefined, deniedModels: undefined, allowedProviders: undefined, deniedProviders: undefined });
    expect(desiredRules({ ...spec, models: { deny: ['a/b'] } })?.deniedModels).toEqual(['a/b']);
  });
  it('names it by cluster and policy, within OpenRouter\'s 200 characters, distinct for long names', () => {
    expect(guardrailName('c1', 'pro')).toBe('teamkeys/c1/pro');
    const long = (end: string) => guardrailName('0'.repeat(36), `${'p'.repeat(240)}${end}`);
    expect(long('a')).toHaveLength(200);
    expect(long('a')).not.toBe(long('b'));
    expect(long('a').startsWith(guardrailPrefix('0'.repeat(36)))).toBe(true);
  });
  it('fingerprints the rules regardless of list order', () => {
    const a = { allowedModels: ['x/a', 'x/b'], zeroDataRetention: false };
    expect(rulesFingerprint(a)).toBe(rulesFingerprint({ allowedModels: ['x/b', 'x/a'], zeroDataRetention: false }));
    expect(rulesFingerprint(a)).not.toBe(rulesFingerprint({ ...a, zeroDataRetention: true }));
    expect(rulesFingerprint(a)).not.toBe(rulesFingerprint({ deniedModels: ['x/a', 'x/b'], zeroDataRetention: false }));
    expect(sameRules(a, { allowedModels: ['x/b', 'x/a'], zeroDataRetention: false })).toBe(true);
    expect(sameRules(a, { allowedModels: ['x/b'], zeroDataRetention: false })).toBe(false);
  });
  it.each([
    [undefined, 'all'],
    [{ deny: ['a/x'] }, 'all (1 denied)'],
    [{ allow: ['a/x', 'a/y'] }, 'a/x, a/y'],
    [{ allow: ['a/x', 'a/y', 'a/z'], deny: ['a/w'] }, '3 allowed (1 denied)'],
  ])('shows %j as %s', (models, shown) => {
    expect(modelsShown({ ...spec, ...(models ? { models } : {}) })).toBe(shown);
  });
});

describe('GuardrailBook', () => {
  const g = (id: string, name = `teamkeys/c/${id}`): Guardrail => ({ id, name, workspaceId: undefined, zeroDataRetention: false });
  const port = (guardrails: Guardrail[], assigned: Record<string, string[]>, during?: () => void): GuardrailPort => ({
    async *list() {
      during?.();
      yield* guardrails;
    },
    async *assignedKeys(id) {
      yield* assigned[id] ?? [];
    },
    get: () => Promise.reject(new Error('unused')),
    create: () => Promise.reject(new Error('unused')),
    update: () => Promise.reject(new Error('unused')),
    delete: () => Promise.reject(new Error('unused')),
    assign: () => Promise.reject(new Error('unused')),
    unassign: () => Promise.reject(new Error('unused')),
  });

  it('keeps only ours, maps each key to its one guardrail, and moves a key on assignment', async () => {
    const b = new GuardrailBook();
    await b.refresh(port([g('a'), g('b'), g('x', 'someone else')], { a: ['k1', 'k2'], b: ['k3'] }), [undefined], (n) => n.startsWith('teamkeys/c/'));
    expect(b.refreshed).toBe(true);
    expect(b.get('x')).toBeUndefined();
    expect(b.guardrailOfKey('k1')).toBe('a');
    b.assigned('b', ['k1']);
    expect(b.guardrailOfKey('k1')).toBe('b');
    expect([...b.assignedKeys('a')]).toEqual(['k2']);
    b.remove('b');
    expect(b.guardrailOfKey('k1')).toBeUndefined();
    expect(b.guardrailOfKey('k3')).toBeUndefined();
  });

  it('does not forget what was written while a refresh ran', async () => {
    const b = new GuardrailBook();
    const during = () => {
      b.put(g('new'));
      b.assigned('new', ['k9']);
    };
    await b.refresh(port([g('a')], {}, during), [undefined], () => true);
    expect(b.get('new')).toBeDefined();
    expect(b.guardrailOfKey('k9')).toBe('new');
    expect(b.byName('teamkeys/c/new')?.id).toBe('new');
  });
});
