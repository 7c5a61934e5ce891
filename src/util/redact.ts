/** Every key string in a text replaced, whatever its length. */
export function redactKeys(text: string): string {
  return text.replace(/sk-or-v1-[0-9a-zA-Z]+/g, 'sk-or-v1-[redacted]');
}

/** Any text from outside (an API's error message) before it reaches a log, Event or status: no key strings, bounded. */
export function redact(message: string): string {
  return redactKeys(message).slice(0, 300);
}
