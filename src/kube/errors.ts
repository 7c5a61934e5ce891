export type KubeErrorKind = 'notFound' | 'conflict' | 'alreadyExists' | 'forbidden' | 'invalid' | 'unavailable' | 'other';

/** A failed API server call, by what it means to the caller; the message is the server's own (its Status). */
export class KubeError extends Error {
  readonly kind: KubeErrorKind;
  readonly status: number;
  constructor(kind: KubeErrorKind, status: number, message: string) {
    super(message);
    this.name = 'KubeError';
    this.kind = kind;
    this.status = status;
  }
}

/** The error an HTTP status and its body (a Status object, as JSON text or parsed) stand for. */
export function kubeError(code: number, body: unknown): KubeError {
  let message = `HTTP ${code}`;
  let reason = '';
  const parsed: unknown = typeof body === 'string' ? safeJson(body) : body;
  if (parsed && typeof parsed === 'object') {
    const b = parsed as { message?: unknown; reason?: unknown };
    if (typeof b.message === 'string') message = b.message;
    if (typeof b.reason === 'string') reason = b.reason;
  }
  let kind: KubeErrorKind = 'other';
  if (code === 404) kind = 'notFound';
  else if (code === 409) kind = reason === 'AlreadyExists' ? 'alreadyExists' : 'conflict';
  else if (code === 403) kind = 'forbidden';
  else if (code === 422 || code === 400) kind = 'invalid';
  else if (code === 429 || code >= 500) kind = 'unavailable';
  return new KubeError(kind, code, message);
}

export function isKube(e: unknown, kind: KubeErrorKind): boolean {
  return e instanceof KubeError && e.kind === kind;
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s) as unknown;
  } catch {
    return undefined;
  }
}
