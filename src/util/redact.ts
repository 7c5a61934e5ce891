/** Any text from outside (an API's error message) before it reaches a log, Event or status: no key strings, bounded. */
export function redact(message: string): string {
  return message.replace(/sk-or-v1-[0-9a-zA-Z]+/g, 'sk-or-v1-[redacted]').slice(0, 300);
}
