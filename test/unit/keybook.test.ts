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

describe('the key book by name', () => {
  const named = (hash: string, name: string): Key => aKey(hash, { name, workspaceId: 'default-ws' });

  it('finds keys by name through puts, renames, removals and refreshes', async () => {
    const clock = new ManualClock();
    const book = new KeyBook(clock);
    await book.refresh(port({ 'default-ws': [named('a', 'n/1'), named('b', 'n/1'), named('c', 'n/2')] }), [undefined]);
    expect(book.byName('n/1').map((k) => k.hash).toSorted()).toEqual(['a', 'b']);
    book.put(named('d', 'n/2'));
    book.remove('c');
    expect(book.byName('n/2').map((k) => k.hash)).toEqual(['d']);
    book.put(named('a', 'released:n/1'));
    expect(book.byName('n/1').map((k) => k.hash)).toEqual(['b']);
    expect(book.byName('released:n/1').map((k) => k.hash)).toEqual(['a']);
    clock.advance(1_000);
    await book.refresh(port({ 'default-ws': [named('e', 'n/1')] }), [undefined]);
    expect(book.byName('n/1').map((k) => k.hash)).toEqual(['e']);
  });

  it('keeps a create of unknown outcome unsettled until a listing that began after it', async () => {
    const clock = new ManualClock();
    const book = new KeyBook(clock);
    book.createUnsure('n/1');
    expect(book.unsettled('n/1')).toBe(true);
    expect(book.unsettled('n/2')).toBe(false);
    clock.advance(1_000);
    await book.refresh(port({ 'default-ws': [] }), [undefined]);
    expect(book.unsettled('n/1')).toBe(false);
  });
});
