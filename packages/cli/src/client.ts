import { print } from '@0no-co/graphql.web';
import type { ResultOf, TadaDocumentNode, VariablesOf } from 'gql.tada';
import { EXIT_CODES, type ExitCode } from './exit-codes.js';

/** A failure the user can act on: refused (the default), bad usage, unreachable (EXIT_CODES). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode = EXIT_CODES.refused,
    readonly details: readonly string[] = [],
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export interface GraphQLClient {
  url: string;
  /** Sends a typed document (see graphql.ts); answers its data, typed from the schema. */
  request<D extends TadaDocumentNode<any, any>>(document: D, variables?: VariablesOf<D>): Promise<ResultOf<D>>;
}

/** A minimal GraphQL-over-HTTP client: bearer token, clear transport errors. */
export function graphqlClient(url: string, token: string | undefined): GraphQLClient {
  return {
    url,
    async request<D extends TadaDocumentNode<any, any>>(document: D, variables?: VariablesOf<D>): Promise<ResultOf<D>> {
      type T = ResultOf<D>;
      let response: Response;
      try {
        response = await fetch(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            accept: 'application/json',
            ...(token ? { authorization: `Bearer ${token}` } : {}),
          },
          body: JSON.stringify({ query: print(document), variables: variables ?? {} }),
          signal: AbortSignal.timeout(30_000),
        });
      } catch (error) {
        throw new CliError(`cannot reach the catalog at ${url}: ${(error as Error).message}`, EXIT_CODES.unreachable);
      }
      const text = await response.text();
      let body: { data?: T; errors?: { message: string }[] };
      try {
        body = JSON.parse(text) as typeof body;
      } catch {
        throw new CliError(
          `the catalog at ${url} answered ${response.status} with something that is not JSON`,
          EXIT_CODES.unreachable,
        );
      }
      if (response.status === 401) {
        throw new CliError(
          body.errors?.[0]?.message ?? 'the token was refused (401); run `annex login`',
          EXIT_CODES.unreachable,
        );
      }
      if (body.errors?.length) {
        throw new CliError(body.errors.map((e) => e.message).join('; '), EXIT_CODES.refused);
      }
      if (!body.data)
        throw new CliError(`the catalog answered ${response.status} without data`, EXIT_CODES.unreachable);
      return body.data;
    },
  };
}

/** A typed-error union member from the catalog: throws it as a CliError, else returns the success. */
export function expectSuccess<T extends { __typename: string }>(result: T, success: string): T {
  if (result.__typename === success) return result;
  const failure = result as unknown as { message?: string; problems?: { path: string; message: string }[] };
  const message = failure.message ?? `unexpected ${result.__typename}`;
  // A single problem is often the message itself; say it once.
  const details = (failure.problems ?? []).map((p) => `${p.path}: ${p.message}`).filter((d) => d !== message);
  throw new CliError(message, EXIT_CODES.refused, details);
}
