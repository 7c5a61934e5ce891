import { ApiException } from '@kubernetes/client-node';

export type KubeErrorKind = 'notFound' | 'conflict' | 'alreadyExists' | 'forbidden' | 'invalid' | 'unavailable' | 'other';

/** client-node's ApiException, mapped once: its message includes headers and its body is raw text. */
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

function toKubeError(e: unknown): unknown {
  if (!(e instanceof ApiException)) return e;
  const code = typeof e.code === 'number' ? e.code : 0;
  let message = `HTTP ${code}`;
  let reason = '';
  const body: unknown = typeof e.body === 'string' ? safeJson(e.body) : e.body;
  if (body && typeof body === 'object') {
    const b = body as { message?: unknown; reason?: unknown };
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

/** Runs a client-node call and rethrows its failure as a KubeError. */
export async function kube<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    throw toKubeError(e);
  }
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s) as unknown;
  } catch {
    return undefined;
  }
}
