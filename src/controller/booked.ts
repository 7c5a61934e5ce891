/**
 * The OpenRouter ports as the reconciles use them: every answer also updates the book the next pass plans from
 * (keys and guardrails seen, changed, created or deleted; assignments), so no step keeps a book by hand.
 */
import type { Guardrail, GuardrailPort, GuardrailRules } from '../domain/guardrail.ts';
import type { Key, KeyChange, KeyPort, NewKey } from '../domain/key.ts';
import { isOpenRouter } from '../openrouter/errors.ts';
import type { GuardrailBook } from './guardrailbook.ts';
import type { KeyBook } from './keybook.ts';

export class BookedKeys implements KeyPort {
  private readonly port: KeyPort;
  private readonly book: KeyBook;

  constructor(port: KeyPort, book: KeyBook) {
    this.port = port;
    this.book = book;
  }

  list(opts?: { workspaceId?: string | undefined }): AsyncIterable<Key> {
    return this.port.list(opts);
  }

  /** A 404 marks the key gone: it is not asked about again until a listing shows it. */
  async get(hash: string): Promise<Key> {
    return this.learn(hash, this.port.get(hash));
  }

  async create(spec: NewKey): Promise<{ key: Key; secret: string }> {
    const created = await this.port.create(spec);
    this.book.put(created.key);
    return created;
  }

  async update(hash: string, change: KeyChange): Promise<Key> {
    return this.learn(hash, this.port.update(hash, change));
  }

  async delete(hash: string): Promise<void> {
    await this.port.delete(hash);
    this.book.remove(hash);
  }

  workspaceId(idOrSlug: string): Promise<string> {
    return this.port.workspaceId(idOrSlug);
  }

  private async learn(hash: string, answer: Promise<Key>): Promise<Key> {
    try {
      const k = await answer;
      this.book.put(k);
      return k;
    } catch (e) {
      if (isOpenRouter(e, 'notFound')) this.book.markGone(hash);
      throw e;
    }
  }
}

export class BookedGuardrails implements GuardrailPort {
  private readonly port: GuardrailPort;
  private readonly book: GuardrailBook;

  constructor(port: GuardrailPort, book: GuardrailBook) {
    this.port = port;
    this.book = book;
  }

  list(workspaceId: string | undefined): AsyncIterable<Guardrail> {
    return this.port.list(workspaceId);
  }

  get(id: string): Promise<Guardrail> {
    return this.learn(this.port.get(id));
  }

  create(name: string, description: string, workspaceId: string | undefined, rules: GuardrailRules): Promise<Guardrail> {
    return this.learn(this.port.create(name, description, workspaceId, rules));
  }

  update(id: string, rules: GuardrailRules): Promise<Guardrail> {
    return this.learn(this.port.update(id, rules));
  }

  async delete(id: string): Promise<void> {
    await this.port.delete(id);
    this.book.remove(id);
  }

  assignedKeys(id: string): AsyncIterable<string> {
    return this.port.assignedKeys(id);
  }

  /** A 404 means the guardrail was deleted outside since the last listing: it is forgotten, so keys wait for a new one. */
  async assign(id: string, hashes: readonly string[]): Promise<number> {
    try {
      const n = await this.port.assign(id, hashes);
      this.book.assigned(id, hashes);
      return n;
    } catch (e) {
      if (isOpenRouter(e, 'notFound')) this.book.remove(id);
      throw e;
    }
  }

  async unassign(id: string, hashes: readonly string[]): Promise<number> {
    const n = await this.port.unassign(id, hashes);
    this.book.unassigned(id, hashes);
    return n;
  }

  private async learn(answer: Promise<Guardrail>): Promise<Guardrail> {
    const g = await answer;
    this.book.put(g);
    return g;
  }
}
