/** An OpenRouter-shaped failure: the HTTP status equals error.code. */
export class HttpError extends Error {
  readonly status: number;
  readonly headers: Record<string, string>;
  constructor(status: number, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.headers = headers;
  }
}

export const MESSAGES = {
  badRequest: 'Invalid request parameters',
  missingAuth: 'Missing Authentication header',
  userNotFound: 'User not found.',
  managementOnly: 'Only management keys can perform this operation',
  notFound: 'Resource not found',
  rateLimited: 'Rate limit exceeded',
  internal: 'Internal Server Error',
  timedOut: 'Operation timed out. Please try again later.',
} as const;

export function envelope(status: number, message: string): { error: { code: number; message: string } } {
  return { error: { code: status, message } };
}
