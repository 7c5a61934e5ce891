import { pino, type Logger } from 'pino';

/**
 * JSON logs. Redaction is the second line of defence: callers never pass key strings, Secrets or request
 * bodies, and these paths catch anything that slips through under a familiar name.
 */
export function createLogger(name: string, level = process.env['LOG_LEVEL'] ?? 'info'): Logger {
  return pino({
    name,
    level,
    redact: {
      paths: ['key', '*.key', 'apiKey', '*.apiKey', 'authorization', '*.authorization', 'headers.authorization', 'secret', '*.secret', 'data.key'],
      censor: '[redacted]',
    },
  });
}
