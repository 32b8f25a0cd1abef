import { CatalogError } from '../domain/errors.js';

// Refusals of the broker's apps API (docs/apps.md, "REST API"), as catalog errors the
// GraphQL layer exposes as typed members of result unions. Each comes from one broker
// error code; `unauthorized`, `not_found` and `invalid_input` reuse the catalog's own
// NotAuthorized, NotFound and InvalidInput.

/** A refusal that carries nothing but its message: one class per broker error code. */
function messageRefusal<Code extends string>(code: Code, name: string) {
  return class extends CatalogError {
    readonly code: Code = code;
    constructor(message: string) {
      super(message);
      this.name = name;
    }
  };
}

/** The token lacks a scope the operation needs (broker `forbidden`, 403). */
export const ForbiddenError = messageRefusal('forbidden', 'ForbiddenError');
export type ForbiddenError = InstanceType<typeof ForbiddenError>;
/** The add-on or attachment is in a state that forbids this now (broker `conflict`, 409). */
export const ConflictError = messageRefusal('conflict', 'ConflictError');
export type ConflictError = InstanceType<typeof ConflictError>;
/** A paid plan needs a default payment method on the org's billing account (broker `payment_required`, 402). */
export const PaymentRequiredError = messageRefusal('payment_required', 'PaymentRequiredError');
export type PaymentRequiredError = InstanceType<typeof PaymentRequiredError>;
/** The plan is not available to the app's organization (broker `not_offered`, 422). */
export const PlanNotOfferedError = messageRefusal('not_offered', 'PlanNotOfferedError');
export type PlanNotOfferedError = InstanceType<typeof PlanNotOfferedError>;
/**
 * The add-on's provider offers no dashboard single sign-on (broker `not_offered`, 422, from
 * `POST /v1/addons/:addon/sso`; elsewhere that code means PlanNotOffered).
 */
export const DashboardNotOfferedError = messageRefusal('not_offered', 'DashboardNotOfferedError');
export type DashboardNotOfferedError = InstanceType<typeof DashboardNotOfferedError>;
/** The provider refused or failed (broker `provider_failed`, 502). */
export const ProviderFailedError = messageRefusal('provider_failed', 'ProviderFailedError');
export type ProviderFailedError = InstanceType<typeof ProviderFailedError>;

/** The broker's error codes whose refusal is only a message, and their classes. */
export const MESSAGE_REFUSALS: ReadonlyMap<string, new (message: string) => CatalogError> = new Map<
  string,
  new (
    message: string,
  ) => CatalogError
>([
  ['forbidden', ForbiddenError],
  ['conflict', ConflictError],
  ['payment_required', PaymentRequiredError],
  ['not_offered', PlanNotOfferedError],
  ['provider_failed', ProviderFailedError],
]);

/** An app or add-on name is already used (broker `name_taken`, 409). */
export class NameTakenError extends CatalogError {
  readonly code = 'name_taken';
  constructor(
    message: string,
    readonly takenName: string | null = null,
  ) {
    super(message);
    this.name = 'NameTakenError';
  }
}

/** A config var the change would set is owned by someone else (broker `var_collision`, 409). */
export class ConfigVarCollisionError extends CatalogError {
  readonly code = 'var_collision';
  constructor(
    message: string,
    /** The var, e.g. `DATABASE_URL`. */
    readonly varName: string,
    /** `user` or `attachment:<name>`; null when the broker did not say. */
    readonly owner: string | null,
  ) {
    super(message);
    this.name = 'ConfigVarCollisionError';
  }
}

/**
 * The broker could not be asked: unreachable, past the deadline, or an answer that is not
 * one of its API's errors (a 5xx, a body that is not JSON). Nothing is known to have changed.
 */
export class BrokerUnavailableError extends CatalogError {
  readonly code = 'broker_unavailable';
  constructor(
    message: string,
    /** The HTTP status, null when there was no answer. */
    readonly status: number | null,
  ) {
    super(message);
    this.name = 'BrokerUnavailableError';
  }
}
