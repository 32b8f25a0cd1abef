import { initGraphQLTada, type ResultOf, type TadaDocumentNode, type VariablesOf } from 'gql.tada';
import { expectSuccess } from './client.js';
import type { Runtime } from './command.js';
import type { introspection } from './graphql-env.generated.js';

// Every document the CLI sends is written with `graphql()`: `gql.tada check` (part of the
// package's typecheck) validates it against the catalog's committed schema, and its result
// and variables are typed from the schema (src/graphql-env.generated.d.ts, regenerated with
// `npm run graphql-env -w @annex/cli` when services/catalog/schema.graphql changes).
export const graphql = initGraphQLTada<{
  introspection: introspection;
  scalars: { DateTime: string; JSON: unknown };
  // Fragments are spread for reuse, not for isolating components: their fields stay readable.
  disableMasking: true;
}>();

export type { ResultOf, VariablesOf };
export type Document = TadaDocumentNode<any, any>;

// Only members of a result union may be spread in it, so each mutation spreads the error
// types it can return that carry more than a message.
export const ErrorFields = graphql('fragment ErrorFields on Error { message }');
export const InvalidInputFields = graphql('fragment InvalidInputFields on InvalidInput { problems { path message } }');
export const CollisionFields = graphql('fragment CollisionFields on ConfigVarCollision { name owner }');
export const ManifestInvalidFields = graphql(
  'fragment ManifestInvalidFields on ManifestInvalid { problems { path message } }',
);

/** The member of a result union whose `__typename` is `S`. */
type Member<T, S extends string> = Extract<T, { __typename: S }>;

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

/** The catalog's enums, as string unions. */
export type ServiceCategory = ReturnType<typeof graphql.scalar<'ServiceCategory'>>;
export type TokenKind = ReturnType<typeof graphql.scalar<'TokenKind'>>;

/** `databases` → `DATABASES`, the catalog's category enum; the catalog refuses one it does not have. */
export const categoryEnum = (category: string) => category.toUpperCase().replaceAll('-', '_') as ServiceCategory;
