import { GraphQLError } from 'graphql';
import {
  BrokerUnavailableError,
  ConfigVarCollisionError,
  ConflictError,
  DashboardNotOfferedError,
  ForbiddenError,
  NameTakenError,
  PaymentRequiredError,
  PlanNotOfferedError,
  ProviderFailedError,
} from '../../apps/errors.js';
import { CatalogError, InvalidInputError, NotAuthorizedError, NotFoundError } from '../../domain/errors.js';
import { builder } from '../builder.js';
import { ErrorInterface } from './errors.js';

// Typed failures of the apps API (the broker's error codes), members of the apps
// mutations' result unions. NotAuthorized, NotFound and InvalidInput are the catalog's.

// The refusals that are only a message: one GraphQL type each.
for (const [refusal, name, description] of [
  [
    ForbiddenError,
    'Forbidden',
    'The token is valid but lacks a scope this needs (e.g. `config:read`). Nothing changed.',
  ],
  [ConflictError, 'Conflict', 'The add-on or attachment is in a state that does not allow this now. Nothing changed.'],
  [
    PlanNotOfferedError,
    'PlanNotOffered',
    "The plan does not exist or is not offered to the app's organization. Nothing changed.",
  ],
  [
    DashboardNotOfferedError,
    'DashboardNotOffered',
    "The add-on's provider offers no dashboard single sign-on. Nothing was minted.",
  ],
  [
    ProviderFailedError,
    'ProviderFailed',
    'The provider refused or failed; the message says what it answered. Nothing changed.',
  ],
  [
    PaymentRequiredError,
    'PaymentRequired',
    "A paid plan needs a default payment method on the organization's billing account (docs/billing.md). Nothing was created.",
  ],
] as const) {
  builder.objectType(refusal, { name, description, interfaces: [ErrorInterface], fields: () => ({}) });
}

builder.objectType(NameTakenError, {
  name: 'NameTaken',
  description: 'The name (of an app, or of an attachment in this app) is already used. Nothing changed.',
  interfaces: [ErrorInterface],
  fields: (t) => ({ name: t.string({ nullable: true, resolve: (e) => e.takenName }) }),
});

builder.objectType(ConfigVarCollisionError, {
  name: 'ConfigVarCollision',
  description:
    'A config var the change would set belongs to someone else; pass `replace: true` to take it over. Nothing changed.',
  interfaces: [ErrorInterface],
  fields: (t) => ({
    name: t.string({ description: 'The var, e.g. `DATABASE_URL`.', resolve: (e) => e.varName }),
    owner: t.string({
      nullable: true,
      description: 'Who owns it now: `user` or `attachment:<name>`.',
      resolve: (e) => e.owner,
    }),
  }),
});

builder.objectType(BrokerUnavailableError, {
  name: 'BrokerUnavailable',
  description:
    'The broker, which holds apps and add-ons, could not be asked (unreachable, too slow, or failing). Retry later.',
  interfaces: [ErrorInterface],
  fields: (t) => ({
    status: t.int({
      nullable: true,
      description: 'HTTP status, null when there was no answer.',
      resolve: (e) => e.status,
    }),
  }),
});

/** Every failure an apps mutation may end with: the broker's error codes plus "broker unavailable". */
export const APP_ERRORS = [
  NotAuthorizedError,
  ForbiddenError,
  NotFoundError,
  InvalidInputError,
  NameTakenError,
  ConfigVarCollisionError,
  ConflictError,
  PlanNotOfferedError,
  PaymentRequiredError,
  ProviderFailedError,
  BrokerUnavailableError,
] as const;

const GRAPHQL_CODES: Record<string, string> = {
  not_authorized: 'UNAUTHENTICATED',
  forbidden: 'FORBIDDEN',
  invalid_input: 'BAD_USER_INPUT',
  not_found: 'NOT_FOUND',
  broker_unavailable: 'BROKER_UNAVAILABLE',
};

/**
 * For fields that are not result unions (queries, nested fields, the subscription): a
 * catalog error becomes a GraphQL error with its message and a code, not "Unexpected error".
 */
export function asGraphQLError(error: unknown): unknown {
  if (!(error instanceof CatalogError)) return error;
  return new GraphQLError(error.message, {
    extensions: { code: GRAPHQL_CODES[error.code] ?? error.code.toUpperCase() },
  });
}

/** Runs `work`, turning catalog errors into GraphQL errors (see `asGraphQLError`). */
export async function orGraphQLError<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw asGraphQLError(error);
  }
}
