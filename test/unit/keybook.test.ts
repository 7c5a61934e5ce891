/** The key book's listing across workspaces: what it says a workspace holds, and a workspace gone since. */
import { describe, expect, it } from 'vitest';
import { KeyBook } from '../../src/controller/keybook.ts';
import type { Key, KeyPort } from '../../src/domain/key.ts';
import { OpenRouterError } from '../../src/openrouter/errors.ts';
import { aKey } from '../kit/keys.ts';
import { ManualClock } from '../kit/world.ts';

const key = (hash: string, workspaceId: string): Key => aKey(hash, { workspaceId });

/** A port listing the given keys per workspace; a workspace in `failing` answers that error. */
function port(keys: Record<string, Key[]>, failing: Record<string, Error> = {}): KeyPort {
  return {
    async *list(opts: { workspaceId?: string | undefined } = {}) {
      const ws = opts.workspaceId ?? 'default-ws';
      const e = failing[ws];
      if (e) throw e;
      yield* keys[ws] ?? [];
    },
  } as unknown as KeyPort;
}

describe('the key book across workspaces', () => {
  it('says which listed workspace holds keys, and knows nothing of one it did not list', async () => {
    const book = new KeyBook(new ManualClock());
    await book.refresh(port({ 'default-ws': [key('a', 'default-ws')], pool: [] }), [undefined, 'pool']);
    expect(book.holdsKeys('default-ws')).toBe(true);
    expect(book.holdsKeys('pool')).toBe(false);
    expect(book.holdsKeys('elsewhere')).toBeUndefined();
  });

  it('lists the others when a workspace a policy left is gone, and fails on any other error', async () => {
    const book = new KeyBook(new ManualClock());
    const gone = new OpenRouterError('badRequest', 'GET /keys', 'unknown workspace', 400);
    await book.refresh(port({ 'default-ws': [key('a', 'default-ws')], pool: [key('b', 'pool')] }, { left: gone }), [undefined, 'left', 'pool']);
    expect(book.get('b')?.hash).toBe('b');
    expect(book.holdsKeys('left'), 'not listed').toBeUndefined();
    const down = new OpenRouterError('server', 'GET /keys', 'boom', 500);
    await expect(book.refresh(port({}, { pool: down }), [undefined, 'pool'])).rejects.toThrow(/boom/);
    // the default workspace is never skipped
    await expect(book.refresh(port({}, { 'default-ws': gone }), [undefined])).rejects.toThrow(/unknown workspace/);
    expect(book.get('b')?.hash, 'a failed refresh keeps the book as it was').toBe('b');
  });
});
