import {
  type DB,
  type GraphqlOperation,
  type Logger,
  missingScopeMessage,
  OPERATION_SCOPES,
  type OrganizationOperation,
  type OutboundPolicy,
  type Principal,
  principalHasScope,
  type Scope,
  type SecretBox,
} from '@annex/platform';
import SchemaBuilder from '@pothos/core';
import DataloaderPlugin from '@pothos/plugin-dataloader';
import ErrorsPlugin from '@pothos/plugin-errors';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin, { type AuthFailure, AuthScopeFailureType } from '@pothos/plugin-scope-auth';
import {
  GraphQLError,
  type GraphQLResolveInfo,
  GraphQLScalarType,
  getNamedType,
  isUnionType,
  Kind,
  type ValueNode,
} from 'graphql';
import type { Kysely } from 'kysely';
import { ForbiddenError } from '../apps/errors.js';
import type { BrokerApi } from '../broker-client.js';
import { NotAuthorizedError } from '../domain/errors.js';
import type { Viewer } from '../domain/visibility.js';

/** Per request. Loaders live in the context object (Pothos keys them by it). */
export interface CatalogContext {
  principal: Principal;
  /** What `principal` may see; every catalog query filters by it. */
  viewer: Viewer;
  db: Kysely<DB>;
  secretBox: SecretBox;
  requestId: string;
  log: Logger;
  /** Where providers' OSB URLs may point (ANNEX_ALLOW_PRIVATE_NETWORKS). */
  outbound: OutboundPolicy;
  /** The caller's raw API token (no `Bearer `), forwarded to the broker; unset for anonymous callers. */
  bearer?: string;
  /** The broker's apps API as this caller sees it (apps, add-ons, config vars live there). */
  broker: BrokerApi;
  /** Aborted when the client goes away (ends subscriptions' long polls at once). */
  signal?: AbortSignal;
  /** How long the response cache may serve this answer; lowered by fields of live data (`limitCacheAge`). */
  cacheMaxAgeMs?: number;
}

export const builder = new SchemaBuilder<{
  Context: CatalogContext;
  DefaultFieldNullability: false;
  /** One parameterised scope: `{ scope: 'apps:write' }` (see `needsScope`). */
  AuthScopes: { scope: Scope };
  Scalars: {
    JSON: { Input: unknown; Output: unknown };
    DateTime: { Input: Date; Output: Date };
  };
}>({
  // Errors before scope-auth: a refusal thrown by scope-auth becomes the typed member of a
  // field's result union.
  plugins: [ErrorsPlugin, ScopeAuthPlugin, RelayPlugin, DataloaderPlugin],
  scopeAuth: {
    authorizeOnSubscribe: true,
    authScopes: (ctx) => ({ scope: (scope: Scope) => principalHasScope(ctx.principal, scope) }),
    unauthorizedError: (_parent, ctx, info, result) => refusal(ctx, info, result.failure),
  },
  defaultFieldNullability: false,
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
    nodesQueryOptions: false,
  },
  errors: { defaultTypes: [], directResult: true },
});

/**
 * The scope-auth options of a root field acting for an organization: its scope comes from
 * the one scope table (`OPERATION_SCOPES` of @annex/platform), named by `Type.field`.
 *
 * @example
 * destroyAddon: t.field({ ...needsScope('Mutation.destroyAddon'), type: …, resolve: … })
 */
export function needsScope(operation: GraphqlOperation & OrganizationOperation): { authScopes: { scope: Scope } } {
  return { authScopes: { scope: OPERATION_SCOPES[operation] } };
}

/** The scope a failed check asked for (our checks are one `{ scope }` each). */
function missingScope(failure: AuthFailure): Scope | undefined {
  if (failure.kind === AuthScopeFailureType.AuthScope) return failure.parameter as Scope;
  if (failure.kind === AuthScopeFailureType.AnyAuthScopes || failure.kind === AuthScopeFailureType.AllAuthScopes) {
    for (const child of failure.failures) {
      const scope = missingScope(child);
      if (scope) return scope;
    }
  }
  return undefined;
}

/**
 * A refused field: without a token (or with a provider's) NotAuthorized, else Forbidden
 * naming the missing scope; the typed member when the field's result union has it, a
 * GraphQL error with its code otherwise.
 */
function refusal(ctx: CatalogContext, info: GraphQLResolveInfo, failure: AuthFailure): Error {
  const scope = missingScope(failure);
  const error =
    ctx.principal.kind === 'anonymous'
      ? new NotAuthorizedError('an API token is required (Authorization: Bearer annex_…)')
      : ctx.principal.kind === 'provider'
        ? new NotAuthorizedError('a provider token cannot act for an organization; use an org, platform or admin token')
        : new ForbiddenError(scope ? missingScopeMessage(scope) : 'the token lacks a scope this needs');
  const returned = getNamedType(info.returnType);
  if (isUnionType(returned) && returned.getTypes().some((type) => type.name === error.name.replace(/Error$/, ''))) {
    return error;
  }
  return new GraphQLError(error.message, {
    extensions: { code: error instanceof ForbiddenError ? 'FORBIDDEN' : 'UNAUTHENTICATED' },
  });
}

function literalValue(node: ValueNode): unknown {
  switch (node.kind) {
    case Kind.STRING:
    case Kind.BOOLEAN:
    case Kind.ENUM:
      return node.value;
    case Kind.INT:
    case Kind.FLOAT:
      return Number(node.value);
    case Kind.NULL:
      return null;
    case Kind.LIST:
      return node.values.map(literalValue);
    case Kind.OBJECT:
      return Object.fromEntries(node.fields.map((f) => [f.name.value, literalValue(f.value)]));
    case Kind.VARIABLE:
      throw new GraphQLError('variables inside JSON literals are not supported; pass the whole value as a variable');
  }
}

builder.addScalarType(
  'JSON',
  new GraphQLScalarType({
    name: 'JSON',
    description: 'Any JSON value.',
    serialize: (value) => value,
    parseValue: (value) => value,
    parseLiteral: literalValue,
  }),
);

builder.addScalarType(
  'DateTime',
  new GraphQLScalarType<Date, string>({
    name: 'DateTime',
    description: 'An ISO 8601 timestamp in UTC.',
    serialize: (value) => (value instanceof Date ? value : new Date(String(value))).toISOString(),
    parseValue: (value) => {
      const date = new Date(String(value));
      if (Number.isNaN(date.getTime())) throw new GraphQLError('expected an ISO 8601 timestamp');
      return date;
    },
  }),
);
