/** An in-memory OpenRouter guardrail port for unit tests: what it holds, and each write it was asked for. */
import type { Guardrail, GuardrailPort, GuardrailRules } from '../../src/domain/guardrail.ts';

export interface FakeGuardrails {
  port: GuardrailPort;
  guardrails: Map<string, Guardrail>;
  /** key hash → guardrail id */
  assigned: Map<string, string>;
  /** every write, as `create <name>`, `update <id>`, `delete <id>`, `assign <id> <hashes>` */
  writes: string[];
}

/** `canonical`: how OpenRouter rewrites the rules it stores (a dated model id for a short one, say). */
export function fakeGuardrails(canonical: (r: GuardrailRules) => GuardrailRules = (r) => r): FakeGuardrails {
  const guardrails = new Map<string, Guardrail>();
  const assigned = new Map<string, string>();
  const writes: string[] = [];
  let n = 0;
  const port: GuardrailPort = {
    async *list() {
      yield* guardrails.values();
    },
    async *assignedKeys(id) {
      for (const [h, g] of assigned) if (g === id) yield h;
    },
    get: async (id) => {
      const g = guardrails.get(id);
      if (!g) throw new Error('404');
      return g;
    },
    create: async (name, _description, workspaceId, rules) => {
      writes.push(`create ${name}`);
      const g = { id: `g${++n}`, name, workspaceId, ...canonical(rules) };
      guardrails.set(g.id, g);
      return g;
    },
    update: async (id, rules) => {
      writes.push(`update ${id}`);
      const g = { ...(guardrails.get(id) as Guardrail), ...canonical(rules) };
      guardrails.set(id, g);
      return g;
    },
    delete: async (id) => {
      writes.push(`delete ${id}`);
      guardrails.delete(id);
    },
    assign: async (id, hashes) => {
      writes.push(`assign ${id} ${hashes.join(',')}`);
      for (const h of hashes) assigned.set(h, id);
      return hashes.length;
    },
    unassign: async () => 0,
  };
  return { port, guardrails, assigned, writes };
}
