/**
 * A key the book does not show, read before its absence is acted on. OpenRouter lists keys offset-paged and
 * newest first: a key deleted by anyone between two page requests moves every later key forward, and the next page
 * skips one that still exists. Only a 404 proves a key gone; any other failure throws, so nothing is done on a guess.
 */
import type { Key } from '../../domain/key.ts';
import { isOpenRouter } from '../../openrouter/errors.ts';
import type { MemberDeps } from './deps.ts';

/** The key as the book has it, else as one GET finds it (and the book learns it); undefined when it is gone. */
export async function confirmedKey(d: Pick<MemberDeps, 'book' | 'keys'>, hash: string): Promise<Key | undefined> {
  const known = d.book.get(hash);
  // before a first listing nothing is known absent: no read per key while OpenRouter cannot even be listed; a key
  // it answered 404 for is not asked about at every pass (an idle pass stays quiet)
  if (known || d.book.refreshedFrom === undefined || d.book.isGone(hash)) return known;
  try {
    const k = await d.keys.get(hash);
    d.book.put(k);
    return k;
  } catch (e) {
    if (!isOpenRouter(e, 'notFound')) throw e;
    d.book.markGone(hash);
    return undefined;
  }
}
