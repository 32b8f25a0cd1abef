import { CliError, EXIT_CODES } from './exit-codes.js';
import { fetchFailure } from './probe.js';

const CATALOG_TIMEOUT_MS = 30_000;

/** Where the provider commands reach the catalog, and as whom. */
export interface CatalogTarget {
  catalog: string;
  token: string | undefined;
}

/**
 * One GraphQL request to the catalog with the provider's token: the `data` of the answer, or a
 * CliError that says what went wrong (no token, unreachable, not JSON, 401, GraphQL errors).
 */
export async function catalogRequest<T>(
  target: CatalogTarget,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<T> {
  if (!target.token) throw new CliError('no catalog token: pass --token or set ANNEX_TOKEN', EXIT_CODES.unreachable);
  let response: Response;
  try {
    response = await fetch(target.catalog, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        Accept: 'application/json',
        Authorization: `Bearer ${target.token}`,
      },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(CATALOG_TIMEOUT_MS),
    });
  } catch (error) {
    throw new CliError(
      `cannot reach the catalog at ${target.catalog}: ${fetchFailure(error, CATALOG_TIMEOUT_MS)}`,
      EXIT_CODES.unreachable,
    );
  }
  const text = await response.text();
  let answer: { data?: T; errors?: { message: string }[] };
  try {
    answer = JSON.parse(text);
  } catch {
    throw new CliError(
      `the catalog at ${target.catalog} answered ${response.status} with something that is not JSON: ${text.slice(0, 300)}`,
      EXIT_CODES.unreachable,
    );
  }
  if (response.status === 401) {
    throw new CliError(
      `the catalog refused the token (401): ${answer.errors?.[0]?.message ?? 'unauthenticated'}`,
      EXIT_CODES.unreachable,
    );
  }
  if (answer.errors && answer.errors.length > 0) {
    throw new CliError(
      `the catalog answered: ${answer.errors.map((error) => error.message).join('; ')}`,
      EXIT_CODES.refused,
    );
  }
  if (answer.data === undefined || answer.data === null) {
    throw new CliError(
      `the catalog answered ${response.status} without data: ${text.slice(0, 300)}`,
      EXIT_CODES.refused,
    );
  }
  return answer.data;
}
