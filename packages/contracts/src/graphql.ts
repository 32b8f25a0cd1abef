import { initGraphQLTada, type ResultOf, type TadaDocumentNode, type VariablesOf } from 'gql.tada';
import type { introspection } from './generated/graphql-env.js';

// Every document a client of the catalog sends (the CLI, the console) is written with
// `graphql()`: `gql.tada check` (part of each client's typecheck) validates it against the
// catalog's committed schema, and its result and variables are typed from the schema
// (src/generated/graphql-env.d.ts, regenerated with `npm run graphql-env -w @annex/contracts`
// when services/catalog/schema.graphql changes; a test fails while it is stale). A schema
// change that breaks a client fails that client's typecheck.
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
export type Member<T, S extends string> = Extract<T, { __typename: S }>;

/** The catalog's enums, as string unions. */
export type ServiceCategory = ReturnType<typeof graphql.scalar<'ServiceCategory'>>;
export type TokenKind = ReturnType<typeof graphql.scalar<'TokenKind'>>;
