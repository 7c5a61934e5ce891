/** Narrows an unknown error to a Node system error with the given code. */
export function isErrno(e: unknown, code: string): e is NodeJS.ErrnoException {
  return e instanceof Error && 'code' in e && e.code === code;
}
