/**
 * The workspace port: its adapter (openrouter/workspaces.ts) against the emulator, and the in-memory fake tests
 * drive (test/kit/workspaces.ts), through the same cases, so the fake refuses what OpenRouter refuses.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Workspaces } from '../../src/domain/workspace.ts';
import { OpenRouterError, type OpenRouterErrorKind } from '../../src/openrouter/errors.ts';
import { OpenRouterWorkspaces } from '../../src/openrouter/workspaces.ts';
import type { ResetPeriod } from '../../src/util/windows.ts';
import { FakeWorkspaces } from '../kit/workspaces.ts';
import { startEmulator, type Harness } from './harness.ts';

let h: Harness;
let adapter: OpenRouterWorkspaces;
beforeAll(async () => {
  h = await startEmulator();
  adapter = new OpenRouterWorkspaces(h.client());
});
afterAll(() => h.stop());

/** A port to test, and a way to put an enabled key in one of its workspaces (disable: take it out of the count). */
interface Subject {
  port: Workspaces;
  addKey(workspaceId: string): Promise<{ disable(): Promise<void> }>;
}

const SUBJECTS: Record<string, () => Subject> = {
  'the adapter against the emulator': () => {
    h.emu.reset();
    return {
      port: adapter,
      addKey: async (workspaceId) => {
        const k = await h.createKey({ workspace_id: workspaceId });
        return { disable: async () => void (await h.api('PATCH', '/keys/{hash}', { key: h.mk, params: { hash: k.hash }, body: { disabled: true } })) };
      },
    };
  },
  'the fake': () => {
    const enabled = new Map<string, number>();
    return {
      port: new FakeWorkspaces((id) => enabled.get(id) ?? 0),
      addKey: async (id) => {
        enabled.set(id, (enabled.get(id) ?? 0) + 1);
        return { disable: async () => void enabled.set(id, (enabled.get(id) ?? 1) - 1) };
      },
    };
  },
};

const failure = async (p: Promise<unknown>): Promise<OpenRouterErrorKind | 'none'> => {
  try {
    await p;
    return 'none';
  } catch (e) {
    if (e instanceof OpenRouterError) return e.kind;
    throw e;
  }
};

type Limit = [ResetPeriod, number];
/** Budgets in place, and one more the port must refuse: limits strictly decrease as the window narrows, and are > 0. */
const REFUSED: [string, Limit[], Limit][] = [
  ['weekly equal to monthly', [['monthly', 50]], ['weekly', 50]],
  ['daily above weekly', [['weekly', 20]], ['daily', 30]],
  ['lifetime below daily, with no window between', [['daily', 40]], ['never', 30]],
  ['monthly lowered under weekly', [['weekly', 20], ['monthly', 60]], ['monthly', 20]],
  ['a limit of zero', [], ['daily', 0]],
];

describe.each(Object.keys(SUBJECTS))('Workspaces: %s', (name) => {
  let s: Subject;
  beforeEach(() => {
    s = SUBJECTS[name]!();
  });

  it('creates, finds by id or slug, answers undefined for none, refuses a taken slug', async () => {
    const w = await s.port.create('Research', 'research');
    expect(w).toEqual({ id: expect.any(String), slug: 'research', name: 'Research' });
    expect(await s.port.get(w.id)).toEqual(w);
    expect(await s.port.get('research')).toEqual(w);
    expect(await s.port.get('nowhere')).toBeUndefined();
    expect(await failure(s.port.create('Again', 'research'))).toBe('badRequest');
    expect(await failure(s.port.create('Bad', 'Not A Slug'))).toBe('badRequest');
  });

  it('deletes a workspace once no enabled key is left in it, and counts one already gone as deleted', async () => {
    const w = await s.port.create('Research', 'research');
    const k = await s.addKey(w.id);
    expect(await failure(s.port.delete('research'))).toBe('badRequest');
    await k.disable();
    await s.port.delete('research');
    expect(await s.port.get(w.id)).toBeUndefined();
    await s.port.delete('research');
    expect(await failure(s.port.delete('default'))).toBe('forbidden');
  });

  it('puts, reads and deletes budgets per window; lifetime is `never`; the BYOK flag is workspace-wide', async () => {
    const w = await s.port.create('Research', 'research');
    expect(await s.port.budgets(w.id)).toEqual({});
    expect(await s.port.putBudget(w.slug, 'monthly', 100, false)).toEqual({ limitUSD: 100, includeByok: false });
    await s.port.putBudget(w.slug, 'never', 500, false);
    await s.port.putBudget(w.slug, 'daily', 10, true);
    expect(await s.port.budgets(w.id)).toEqual({
      daily: { limitUSD: 10, includeByok: true }, monthly: { limitUSD: 100, includeByok: true }, never: { limitUSD: 500, includeByok: true },
    });
    await s.port.deleteBudget(w.id, 'monthly');
    await s.port.deleteBudget(w.id, 'monthly');
    expect(Object.keys(await s.port.budgets(w.id)).toSorted()).toEqual(['daily', 'never']);
    await s.port.deleteBudget('nowhere', 'daily');
    expect(await failure(s.port.budgets('nowhere'))).toBe('notFound');
  });

  it.each(REFUSED)('refuses %s', async (_what, existing, [window, limit]) => {
    const w = await s.port.create('Research', 'research');
    for (const [x, l] of existing) await s.port.putBudget(w.id, x, l, false);
    expect(await failure(s.port.putBudget(w.id, window, limit, false))).toBe('badRequest');
    expect(Object.keys(await s.port.budgets(w.id))).toHaveLength(existing.length);
  });
});
