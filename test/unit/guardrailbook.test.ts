/** The guardrail book's listing across workspaces: a named workspace OpenRouter does not know stops nothing. */
import { expect, it } from 'vitest';
import { GuardrailBook } from '../../src/controller/guardrailbook.ts';
import type { Guardrail, GuardrailPort } from '../../src/domain/guardrail.ts';
import { OpenRouterError } from '../../src/openrouter/errors.ts';

const g = (id: string, workspaceId: string): Guardrail => ({ id, name: `teamkeys/c1/${id}`, workspaceId } as Guardrail);

/** A port listing the given guardrails per workspace; a workspace in `failing` answers that error. */
function port(guardrails: Record<string, Guardrail[]>, failing: Record<string, Error> = {}): GuardrailPort {
  return {
    async *list(workspaceId?: string) {
      const ws = workspaceId ?? 'default-ws';
      const e = failing[ws];
      if (e) throw e;
      yield* guardrails[ws] ?? [];
    },
    async *assignedKeys() {},
  } as unknown as GuardrailPort;
}

it('lists the other workspaces when one is unknown to OpenRouter, and fails on any other error', async () => {
  const book = new GuardrailBook();
  const unknown = new OpenRouterError('badRequest', 'GET /guardrails', 'Workspace x not found', 400);
  const ours = () => true;
  await book.refresh(port({ 'default-ws': [g('a', 'default-ws')], research: [g('b', 'research')] }, { elsewhere: unknown }), [undefined, 'elsewhere', 'research'], ours);
  expect(book.all().map((x) => x.id)).toEqual(['a', 'b']);
  expect(book.refreshed).toBe(true);
  const down = new OpenRouterError('server', 'GET /guardrails', 'boom', 500);
  await expect(book.refresh(port({}, { research: down }), [undefined, 'research'], ours)).rejects.toThrow(/boom/);
  // the default workspace is never skipped
  await expect(book.refresh(port({}, { 'default-ws': unknown }), [undefined], ours)).rejects.toThrow(/not found/);
  expect(book.all().map((x) => x.id), 'a failed refresh keeps the book as it was').toEqual(['a', 'b']);
});
