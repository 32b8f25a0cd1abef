/** Socket errors of a server that is down, restarting or unreachable. */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

/** SQLSTATEs of a server that is shutting down, starting up or out of connections. */
const SERVER_STATES = new Set(['57P01', '57P02', '57P03', '53300']);

/** What `pg`, its pool, Kysely and PGlite say when there is no usable connection. */
const MESSAGES = [
  'timeout exceeded when trying to connect',
  'Connection terminated',
  'Client has encountered a connection error and is not queryable',
  'Client was closed and is not queryable',
  'PGlite is closed',
  'driver has already been destroyed',
];

/**
 * Whether an error means the database cannot be reached right now (refused or dropped
 * connections, a server shutting down or starting up, a pool that cannot connect, a closed
 * PGlite), as opposed to a problem with the statement itself. Services answer such errors
 * with 503 and `Retry-After` rather than 500.
 *
 * @example
 * try {
 *   await db.selectFrom('apps').selectAll().execute();
 * } catch (error) {
 *   if (isDatabaseUnavailable(error)) return res.status(503).set('retry-after', '5').end();
 *   throw error;
 * }
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  // Causes and AggregateErrors (a host with several addresses) are looked into, a few levels deep.
  const pending: unknown[] = [error];
  for (let seen = 0; pending.length > 0 && seen < 16; seen++) {
    const current = pending.shift();
    if (typeof current !== 'object' || current === null) continue;
    const { code, message, cause, errors } = current as {
      code?: unknown;
      message?: unknown;
      cause?: unknown;
      errors?: unknown;
    };
    if (typeof code === 'string' && (CONNECTION_CODES.has(code) || SERVER_STATES.has(code) || /^08/.test(code))) {
      return true;
    }
    if (typeof message === 'string' && MESSAGES.some((known) => message.startsWith(known))) return true;
    if (cause !== undefined) pending.push(cause);
    if (Array.isArray(errors)) pending.push(...errors);
  }
  return false;
}
