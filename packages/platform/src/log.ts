import { currentContext } from '@annex/tracing';
import { type DestinationStream, type Logger, pino } from 'pino';

export type { Logger } from 'pino';

// The process-wide pino instance behind each service's logger: an installation that runs
// several services in one process (packages/local) gives each its own `service` binding on
// that root. A pino child cannot replace a binding, only add a second one.
const roots = new WeakMap<Logger, Logger>();

/**
 * Structured JSON logs, one line per event, each naming its `service` once. Secrets are
 * redacted by path wherever they might appear in a logged object; OSB parameters count as
 * secrets (they may carry passwords). A line logged inside a traced request or job carries
 * its `trace_id` and `span_id` (with tracing off, those a caller sent in `traceparent`).
 * `destination` defaults to standard output.
 *
 * @example
 * const log = createLogger('broker', 'info');
 * log.warn({ provider: 'acme' }, 'provider call failed');
 */
export function createLogger(service: string, level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    // No pid or hostname: the service (and the platform's own labels) say where a line is from.
    base: undefined,
    mixin: traceIds,
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
  const root = destination ? pino(options, destination) : pino(options);
  return withRoot(root, root.child({ service }));
}

/**
 * The logger of another service in the same process, on the same output: its lines say
 * `"service":"<service>"` instead of the parent's (not beside it).
 *
 * @example
 * const catalogLog = serviceLogger(createLogger('annex', 'info'), 'catalog');
 */
export function serviceLogger(logger: Logger, service: string): Logger {
  const root = roots.get(logger);
  // A logger made elsewhere: the best left is a binding beside its own.
  if (!root) return logger.child({ service });
  return withRoot(root, root.child({ service }));
}

/** The current trace's ids for a log line (OpenTelemetry's names for them in logs). */
function traceIds(): object {
  const context = currentContext();
  // A fresh object each time: pino merges the line's own fields into it.
  return context ? { trace_id: context.traceId, span_id: context.spanId } : {};
}

function withRoot(root: Logger, logger: Logger): Logger {
  roots.set(logger, root);
  return logger;
}
