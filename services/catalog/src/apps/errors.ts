import { CatalogError } from '../domain/errors.js';

// Refusals of the broker's apps API (docs/apps.md, "REST API"), as catalog errors the
// GraphQL layer exposes as typed members of result unions. Each comes from one broker
// error code; `unauthorized`, `not_found` and `invalid_input` reuse the catalog's own
// NotAuthorized, NotFound and InvalidInput.

/** The token lacks a scope the operation needs (broker `forbidden`, 403). */
export class ForbiddenError extends CatalogError {
  readonly code = 'forbidden';
  constructor(message: string) {
    super(message);
    this.name = 'ForbiddenError';
  }
}

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

/** The add-on or attachment is in a state that forbids this now (broker `conflict`, 409). */
export class ConflictError extends CatalogError {
  readonly code = 'conflict';
  constructor(message: string) {
    super(message);
    this.name = 'ConflictError';
  }
}

/** A paid plan needs a default payment method on the org's billing account (broker `payment_required`, 402). */
export class PaymentRequiredError extends CatalogError {
  readonly code = 'payment_required';
  constructor(message: string) {
    super(message);
    this.name = 'PaymentRequiredError';
  }
}

/** The plan is not available to the app's organization (broker `not_offered`, 422). */
export class PlanNotOfferedError extends CatalogError {
  readonly code = 'not_offered';
  constructor(message: string) {
    super(message);
    this.name = 'PlanNotOfferedError';
  }
}

/** The provider refused or failed (broker `provider_failed`, 502). */
export class ProviderFailedError extends CatalogError {
  readonly code = 'provider_failed';
  constructor(message: string) {
    super(message);
    this.name = 'ProviderFailedError';
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
