import type { Document, Member, ResultOf, ServiceCategory, VariablesOf } from '@annex/contracts/graphql';
import { expectSuccess } from './client.js';
import type { Runtime } from './command.js';

// The CLI's documents are written with `graphql()` from @annex/contracts, typed from the
// catalog's committed schema and checked by `gql.tada check` in this package's typecheck.
export {
  CollisionFields,
  type Document,
  ErrorFields,
  graphql,
  InvalidInputFields,
  ManifestInvalidFields,
  type ResultOf,
  type ServiceCategory,
  type TokenKind,
  type VariablesOf,
} from '@annex/contracts/graphql';

/**
 * Runs a mutation whose field `field` is a result union; answers the `success` member, or
 * throws the typed error it got as a CliError (exit 1).
 */
export async function mutate<D extends Document, F extends keyof ResultOf<D> & string, S extends string>(
  ctx: Pick<Runtime, 'client'>,
  document: D,
  variables: VariablesOf<D>,
  field: F,
  success: S,
): Promise<Member<ResultOf<D>[F], S>> {
  const data = await ctx.client().request(document, variables);
  return expectSuccess(data[field] as { __typename: string }, success) as Member<ResultOf<D>[F], S>;
}

/** `databases` → `DATABASES`, the catalog's category enum; the catalog refuses one it does not have. */
export const categoryEnum = (category: string) => category.toUpperCase().replaceAll('-', '_') as ServiceCategory;
