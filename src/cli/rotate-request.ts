/**
 * Pure: the teamkeys.dev/rotate value a rotate command sets. The operator rotates once for each value it has not
 * acted on, so the value must differ from the one there now; the time makes it unique and says when it was asked.
 */
export function rotateRequest(now: number, reason: string | undefined, current: string | undefined): string {
  for (let at = now; ; at++) {
    const value = `${new Date(at).toISOString()}${reason ? ` ${reason}` : ''}`;
    if (value !== current) return value;
  }
}
