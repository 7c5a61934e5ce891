/** The policy guardrail step against an in-memory OpenRouter: what it writes, and what it calls drift. */
import { BookedGuardrails } from '../../src/controller/booked.ts';
import { describe, expect, it } from 'vitest';
import type { KeyPolicy } from '../../src/api/schema.ts';
import { GuardrailBook } from '../../src/controller/guardrailbook.ts';
import { syncGuardrail, type GuardrailDeps } from '../../src/controller/policy/guardrail.ts';
import type { Guardrail, GuardrailRules } from '../../src/domain/guardrail.ts';
import { fakeGuardrails } from './fake-guardrails.ts';

/** OpenRouter's canonical form: a dated id comes back for the short one. */
const canonical = (r: GuardrailRules): GuardrailRules => ({ ...r, allowedModels: r.allowedModels?.map((m) => (m === 'openai/gpt-4o-mini' ? 'openai/gpt-4o-mini-2024-07-18' : m)) });

/** A write as these tests name it: its verb, and how many keys an assignment carried. */
const short = (w: string) => (w.startsWith('assign ') ? `assign ${(w.split(' ')[2] ?? '').split(',').length}` : (w.split(' ')[0] ?? ''));

function world() {
  const { port, guardrails, writes: all } = fakeGuardrails(canonical);
  const events: string[] = [];
  const book = new GuardrailBook();
  const d: GuardrailDeps = {
    guardrails: new BookedGuardrails(port, book), book, clusterId: 'c', workspaceId: async () => undefined,
    refresh: () => book.refresh(port, [undefined], (name) => name.startsWith('teamkeys/c/')),
    recorder: {
      normal: async (_o, reason) => void events.push(reason),
      warn: async (_o, reason) => void events.push(`!${reason}`),
    },
    now: () => '2026-11-26T00:00:00Z',
  };
  return { guardrails, get writes() { return all.map(short); }, events, d };
}

const policy = (allow: string[]): KeyPolicy => ({
  apiVersion: 'teamkeys.dev/v1alpha1', kind: 'KeyPolicy', metadata: { name: 'pro', uid: 'u' },
  spec: { deletionPolicy: 'Delete', onDisabledOutside: 'Replace', models: { allow } },
});

describe('syncGuardrail', () => {
  it('creates once, then writes nothing while idle, comparing through the canonical form', async () => {
    const w = world();
    const first = await syncGuardrail(policy(['openai/gpt-4o-mini']), undefined, ['k1', 'k2'], w.d);
    expect(first.status).toMatchObject({ name: 'teamkeys/c/pro', models: { allow: ['openai/gpt-4o-mini-2024-07-18'] }, assignedKeys: 2, keys: 2 });
    expect(w.writes).toEqual(['create', 'assign 2']);
    await w.d.refresh();
    const again = await syncGuardrail(policy(['openai/gpt-4o-mini']), first.status, ['k1', 'k2'], w.d);
    expect(w.writes).toEqual(['create', 'assign 2']);
    expect(again.status).toEqual(first.status);
  });

  it('applies a spec change without calling it drift, even when the status it is given lags behind', async () => {
    const w = world();
    const first = await syncGuardrail(policy(['openai/gpt-4o-mini']), undefined, ['k1'], w.d);
    const second = await syncGuardrail(policy(['openai/gpt-4.1']), first.status, ['k1'], w.d);
    // a pass on a cache that does not show the second write yet
    await syncGuardrail(policy(['openai/gpt-4.1']), first.status, ['k1'], w.d);
    expect(w.writes).toEqual(['create', 'assign 1', 'update']);
    expect(w.events).toEqual(['GuardrailCreated', 'GuardrailAssigned', 'GuardrailUpdated']);
    expect(second.status?.models?.allow).toEqual(['openai/gpt-4.1']);
  });

  it('follows the policy to another workspace: created there, the keys assigned, then the old one deleted; no drift', async () => {
    const w = world();
    const ids: Record<string, string> = { a: 'ws-a', b: 'ws-b' };
    w.d.workspaceId = async (p) => (p.spec.workspace === undefined ? undefined : ids[p.spec.workspace]);
    const base = policy(['openai/gpt-4o-mini']);
    const inWs = (ref: string | undefined, status?: KeyPolicy['status']): KeyPolicy => ({ ...base, spec: { ...base.spec, ...(ref ? { workspace: ref } : {}) }, ...(status ? { status } : {}) });
    const first = await syncGuardrail(inWs('a'), undefined, ['k1', 'k2'], w.d);
    expect([...w.guardrails.values()].map((g) => g.workspaceId)).toEqual(['ws-a']);
    const second = await syncGuardrail(inWs('b'), first.status, ['k1', 'k2'], w.d);
    expect(w.writes).toEqual(['create', 'assign 2', 'create', 'assign 2', 'delete']);
    expect([...w.guardrails.values()].map((g) => g.workspaceId)).toEqual(['ws-b']);
    expect(w.events).toEqual(['GuardrailCreated', 'GuardrailAssigned', 'GuardrailMoved', 'GuardrailAssigned']);
    expect(second.status).toMatchObject({ assignedKeys: 2 });
    expect(second.status?.lastDrift).toBeUndefined();
    // back to the default workspace (a pool's owned workspace holds no guardrail): the status still records b
    const third = await syncGuardrail(inWs(undefined, { workspace: { ref: 'b', id: 'ws-b', owned: false } }), second.status, ['k1', 'k2'], w.d);
    expect([...w.guardrails.values()].map((g) => g.workspaceId)).toEqual([undefined]);
    // settled there: an owned workspace in status moves nothing, and an idle pass writes nothing
    const writes = w.writes.length;
    await syncGuardrail(inWs(undefined, { workspace: { ref: 'tk-pro-u', id: 'ws-own', owned: true } }), third.status, ['k1', 'k2'], w.d);
    expect(w.writes).toHaveLength(writes);
  });

  it('takes a key a member pass put on the old guardrail meanwhile along, and new keys go to the one that stays', async () => {
    const w = world();
    const ids: Record<string, string> = { a: 'ws-a', b: 'ws-b' };
    w.d.workspaceId = async (p) => (p.spec.workspace === undefined ? undefined : ids[p.spec.workspace]);
    const base = policy(['openai/gpt-4o-mini']);
    const inWs = (ref: string): KeyPolicy => ({ ...base, spec: { ...base.spec, workspace: ref } });
    const first = await syncGuardrail(inWs('a'), undefined, ['k1'], w.d);
    const old = first.status?.id ?? '';
    // a rotation's new key, assigned to the guardrail the book named before the move (not yet in any status)
    await w.d.guardrails.assign(old, ['k2']);
    const moved = await syncGuardrail(inWs('b'), first.status, ['k1'], w.d);
    expect(w.writes).toEqual(['create', 'assign 1', 'assign 1', 'create', 'assign 1', 'assign 1', 'delete']);
    expect(w.d.book.byName('teamkeys/c/pro')?.id, 'members now get the new one').toBe(moved.status?.id);
    expect(w.d.book.guardrailOfKey('k2')).toBe(moved.status?.id);
    expect(w.guardrails.has(old)).toBe(false);
  });

  it('restores an edit made outside, and after a restart judges it from status alone', async () => {
    const w = world();
    const first = await syncGuardrail(policy(['openai/gpt-4o-mini']), undefined, ['k1'], w.d);
    const id = first.status?.id ?? '';
    w.guardrails.set(id, { ...(w.guardrails.get(id) as Guardrail), allowedModels: ['anthropic/claude-3.5-sonnet'] });
    const fresh = { ...w.d, book: new GuardrailBook() }; // a new process: nothing in memory
    fresh.refresh = () => fresh.book.refresh(fresh.guardrails, [undefined], () => true);
    const r = await syncGuardrail(policy(['openai/gpt-4o-mini']), first.status, ['k1'], fresh);
    expect(w.guardrails.get(id)?.allowedModels).toEqual(['openai/gpt-4o-mini-2024-07-18']);
    expect(w.events.at(-1)).toBe('!GuardrailDrift');
    expect(r.status?.lastDrift?.what).toMatch(/edited outside/);
    expect(r.condition.message).toMatch(/last drift corrected at 2026-11-26T00:00:00Z/);
  });
});
