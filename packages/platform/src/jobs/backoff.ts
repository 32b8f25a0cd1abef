/** How long a retry waits: the one policy for jobs, webhook deliveries and provider calls. */
export interface RetryPolicy {
  /** The wait after the first failure, before jitter. */
  baseMs: number;
  /** No wait is longer than this (a `Retry-After` aside). */
  maxMs: number;
}

/**
 * The wait before attempt `attempt + 1` after attempt `attempt` (from 1) failed:
 * `baseMs · 2^(attempt-1)`, capped at `maxMs`, times a jitter in [0.75, 1.25) (and again
 * capped) so that work failing together does not retry together; never less than the
 * `retryAfterMs` the other side asked for.
 *
 * @example
 * retryDelayMs(3, { baseMs: 1_000, maxMs: 3_600_000 }) // 3000–5000
 * retryDelayMs(1, { baseMs: 1_000, maxMs: 3_600_000 }, 30_000) // 30000
 */
export function retryDelayMs(
  attempt: number,
  policy: RetryPolicy,
  retryAfterMs = 0,
  random: () => number = Math.random,
): number {
  const exponent = Math.max(0, attempt - 1);
  const base = Math.min(policy.baseMs * 2 ** Math.min(exponent, 40), policy.maxMs);
  const jittered = Math.min(Math.floor(base * (0.75 + 0.5 * random())), policy.maxMs);
  return Math.max(jittered, Math.ceil(retryAfterMs));
}
