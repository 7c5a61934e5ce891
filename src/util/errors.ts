/** Narrows an unknown error to a Node system error with the given code. */
export function isErrno(e: unknown, code: string): e is NodeJS.ErrnoException {
  return e instanceof Error && 'code' in e && e.code === code;
}

/** A write attempted by a replica that is not (or no longer) the leader: refused before it leaves the process. */
export class Deposed extends Error {
  constructor(what: string) {
    super(`not the leader: refused to ${what}`);
    this.name = 'Deposed';
  }
}

/** The message of anything thrown, for a log line or a condition (callers redact where a key could appear). */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
