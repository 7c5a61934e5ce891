/** OpenRouter's key listing missing a key that exists, as it does when keys are deleted between two page requests. */
import type { Emulator } from '../../src/emulator/server.ts';

const PAGE = 100;

/**
 * Puts `hash` first on a later page (another user of the account creates keys in front of it) and makes every
 * listing skip the first key of each later page (listShift: as if a newer key was deleted between the pages), so
 * each listing misses `hash` until the returned undo (fault off, the other user's keys deleted) is called.
 */
export function missInListings(emu: Emulator, hash: string): () => void {
  const index = emu.store.listKeys({ includeDisabled: true }).findIndex((k) => k.hash === hash);
  if (index < 0) throw new Error(`no key ${hash} to miss`);
  const first = Math.max(PAGE, Math.ceil(index / PAGE) * PAGE);
  const others = Array.from({ length: first - index }, () => emu.store.createKey({ name: "another user's key" }).key.hash);
  emu.faults.set([{ route: 'GET /api/v1/keys', kind: 'listShift', shift: 1, probability: 1, status: 500, latencyMs: 0, retryAfterSeconds: 0 }]);
  return () => {
    emu.faults.clear();
    for (const h of others) emu.store.deleteKey(h);
  };
}
