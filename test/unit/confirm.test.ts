import { describe, expect, it } from 'vitest';
import { BookedKeys } from '../../src/controller/booked.ts';
import { KeyBook } from '../../src/controller/keybook.ts';
import { confirmedKey } from '../../src/controller/member/gather.ts';
import type { Key, KeyPort } from '../../src/domain/key.ts';
import { OpenRouterError } from '../../src/openrouter/errors.ts';
import { aKey } from './keys.ts';

/** A KeyPort whose listing shows `listed` and whose GET answers from `exists` (else 404), or fails with `fail`. */
function port(listed: Key[], exists: Key[], fail?: OpenRouterError) {
  const gets: string[] = [];
  const keys: KeyPort = {
    async *list() {
      yield* listed;
    },
    get: async (hash) => {
      gets.push(hash);
      if (fail) throw fail;
      const k = exists.find((x) => x.hash === hash);
      if (!k) throw new OpenRouterError('notFound', 'GET /keys/{hash}', 'Not Found', 404);
      return k;
    },
    create: () => Promise.reject(new Error('not here')),
    update: () => Promise.reject(new Error('not here')),
    delete: () => Promise.reject(new Error('not here')),
    workspaceId: () => Promise.reject(new Error('not here')),
  };
  return { keys, gets };
}

describe('a key the listing did not show', () => {
  const now = Date.parse('2027-03-10T12:00:00Z');
  const clock = { now: () => now };
  const a = aKey('a');
  const b = aKey('b');

  it('is read with one GET, and the book learns it, when the listing missed it', async () => {
    const { keys, gets } = port([a], [a, b]);
    const book = new KeyBook(clock);
    await book.refresh(keys, [undefined]);
    expect(await confirmedKey({ book, keys: new BookedKeys(keys, book) }, 'b')).toEqual(b);
    expect(book.get('b')).toEqual(b);
    // known now: no second read
    expect(await confirmedKey({ book, keys: new BookedKeys(keys, book) }, 'b')).toEqual(b);
    expect(gets).toEqual(['b']);
  });

  it('costs no call when the key was listed, nor before a first listing (nothing is known absent then)', async () => {
    const { keys, gets } = port([a], [a, b]);
    const book = new KeyBook(clock);
    expect(await confirmedKey({ book, keys: new BookedKeys(keys, book) }, 'b')).toBeUndefined();
    await book.refresh(keys, [undefined]);
    expect(await confirmedKey({ book, keys: new BookedKeys(keys, book) }, 'a')).toEqual(a);
    expect(gets).toEqual([]);
  });

  it('is gone only on a 404, and is not asked about again (an idle pass stays quiet)', async () => {
    const { keys, gets } = port([a], [a]);
    const book = new KeyBook(clock);
    await book.refresh(keys, [undefined]);
    expect(await confirmedKey({ book, keys: new BookedKeys(keys, book) }, 'b')).toBeUndefined();
    expect(await confirmedKey({ book, keys: new BookedKeys(keys, book) }, 'b')).toBeUndefined();
    await book.refresh(keys, [undefined]);
    expect(await confirmedKey({ book, keys: new BookedKeys(keys, book) }, 'b')).toBeUndefined();
    expect(gets).toEqual(['b']);
  });

  it('fails closed on any other failure: it throws, and nothing is taken for gone', async () => {
    const { keys } = port([a], [a, b], new OpenRouterError('server', 'GET /keys/{hash}', 'Service Unavailable', 503));
    const book = new KeyBook(clock);
    await book.refresh(keys, [undefined]);
    await expect(confirmedKey({ book, keys: new BookedKeys(keys, book) }, 'b')).rejects.toMatchObject({ kind: 'server' });
    expect(book.get('a')).toEqual(a);
  });
});
