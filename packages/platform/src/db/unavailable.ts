/** Node network errors that mean the database server could not be reached or went away. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * PostgreSQL error codes (SQLSTATE) of a server that cannot serve this connection:
 * connection exceptions (class 08), shutting down or starting up (57P01–57P03), out of
 * connections (53300), and a database that does not exist (3D000: dropped, or not yet
 * restored).
 */
const SQLSTATE = /^(08...|57P0[123]|53300|3D000)$/;

/** Errors `pg`, its pool, PGlite and Kysely raise with no code for the same situations. */
const MESSAGES = [
  /^Connection terminated/, // the server closed the connection, or the connect timed out
  /^timeout exceeded when trying to connect$/, // pg pool: no connection within connectionTimeoutMillis
  /is not queryable$/, // pg client: after a connection error, or closed
  /^Cannot use a pool after calling end on the pool$/,
  /^PGlite is clos(ed|ing)$/,
  /^driver has already been destroyed$/, // Kysely, after the database was closed
];

/**
 * Whether `error` (or its `cause`) says the database could not be used at all —
 * unreachable, gone, shutting down, out of connections, or closed — rather than that a
 * statement failed. Services answer such failures with 503 and `Retry-After` (the
 * request may succeed later, and changed nothing); any other error stays a 500.
 *
 * @example
 * if (isDatabaseUnavailable(error)) res.status(503).set('Retry-After', String(DATABASE_RETRY_AFTER_SECONDS));
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  const seen = new Set<unknown>();
  let current: unknown = error;
  while (current instanceof Error && !seen.has(current)) {
    seen.add(current);
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && (NETWORK_CODES.has(code) || SQLSTATE.test(code))) return true;
    const message = current.message;
    if (MESSAGES.some((pattern) => pattern.test(message))) return true;
    // Node reports a connect to several addresses (localhost: ::1 and 127.0.0.1) as one AggregateError.
    if (current instanceof AggregateError && current.errors.some((inner) => isDatabaseUnavailable(inner))) return true;
    current = current.cause;
  }
  return false;
}

/** The `Retry-After` (seconds) services send with a 503 for an unavailable database. */
export const DATABASE_RETRY_AFTER_SECONDS = 5;
