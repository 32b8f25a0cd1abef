import { expectSuccess } from './client.js';
import type { Runtime } from './command.js';

// Only members of a result union may be spread in it, so each mutation names the error
// types it can return that carry more than a message.
export const ERROR = '... on Error { message }';
export const INVALID_INPUT = '... on InvalidInput { problems { path message } }';
export const COLLISION = '... on ConfigVarCollision { name owner }';
export const MANIFEST_INVALID = '... on ManifestInvalid { problems { path message } }';

/** Runs a mutation whose field is a result union; throws the typed error as a CliError. */
export async function mutate<T extends { __typename: string }>(
  ctx: Pick<Runtime, 'client'>,
  field: string,
  query: string,
  variables: Record<string, unknown>,
  success: string,
): Promise<T> {
  const data = await ctx.client().request<Record<string, T>>(query, variables);
  return expectSuccess(data[field] as T, success);
}

/** `databases` → `DATABASES`, the catalog's category enum. */
export const categoryEnum = (category: string) => category.toUpperCase().replaceAll('-', '_');
