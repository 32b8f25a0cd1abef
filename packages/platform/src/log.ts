import { type DestinationStream, type Logger, pino } from 'pino';

export type { Logger } from 'pino';

/**
 * Structured JSON logs, one line per event (to stdout unless `destination` is given).
 * Secrets are redacted by path wherever they might appear in a logged object; OSB
 * parameters count as secrets (they may carry passwords).
 */
export function createLogger(service: string, level: string, destination?: DestinationStream): Logger {
  const options = {
    name: service,
    level,
    base: { service },
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'credentials',
        '*.credentials',
        'password',
        '*.password',
        'token',
        '*.token',
        'parameters',
        '*.parameters',
      ],
      censor: '[redacted]',
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
