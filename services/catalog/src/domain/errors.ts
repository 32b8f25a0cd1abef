/**
 * Expected failures of catalog operations. Each has a stable code; the GraphQL layer turns
 * them into typed members of a mutation's result union (see graphql/types/errors.ts).
 */
export abstract class CatalogError extends Error {
  abstract readonly code: string;
}

export interface Problem {
  /** Where: a dotted path such as `services.0.plans.1.id`. */
  path: string;
  message: string;
}

export class NotAuthorizedError extends CatalogError {
  readonly code = 'not_authorized';
  constructor(message = 'this operation needs an admin token') {
    super(message);
    this.name = 'NotAuthorizedError';
  }
}

export class ManifestInvalidError extends CatalogError {
  readonly code = 'manifest_invalid';
  constructor(
    readonly problems: readonly Problem[],
    message = `the manifest has ${problems.length} problem${problems.length === 1 ? '' : 's'}: ${problems
      .slice(0, 3)
      .map((p) => `${p.path}: ${p.message}`)
      .join('; ')}${problems.length > 3 ? '; …' : ''}`,
  ) {
    super(message);
    this.name = 'ManifestInvalidError';
  }
}

export class InvalidInputError extends CatalogError {
  readonly code = 'invalid_input';
  constructor(readonly problems: readonly Problem[]) {
    super(problems.map((p) => `${p.path}: ${p.message}`).join('; '));
    this.name = 'InvalidInputError';
  }
}

export interface PlanInUseEntry {
  serviceId: string;
  /** `null` when a whole service is being removed. */
  planId: string | null;
  liveInstances: number;
}

export class PlanInUseError extends CatalogError {
  readonly code = 'plan_in_use';
  constructor(readonly plans: readonly PlanInUseEntry[]) {
    super(
      `cannot remove ${plans
        .map((p) => (p.planId ? `plan "${p.planId}" of service "${p.serviceId}"` : `service "${p.serviceId}"`))
        .join(', ')}: live instances use it; keep it in the manifest with deprecated: true instead`,
    );
    this.name = 'PlanInUseError';
  }
}

export class IdConflictError extends CatalogError {
  readonly code = 'id_conflict';
  constructor(
    readonly kind: 'service' | 'plan',
    readonly id: string,
    message: string,
  ) {
    super(message);
    this.name = 'IdConflictError';
  }
}

export class SlugTakenError extends CatalogError {
  readonly code = 'slug_taken';
  constructor(
    readonly kind: 'organization' | 'platform' | 'provider' | 'service',
    readonly slug: string,
    message = `${kind} slug "${slug}" is already taken`,
  ) {
    super(message);
    this.name = 'SlugTakenError';
  }
}

export class NotFoundError extends CatalogError {
  readonly code = 'not_found';
  constructor(
    readonly kind: string,
    readonly key: string,
  ) {
    super(`no ${kind} "${key}"`);
    this.name = 'NotFoundError';
  }
}

export class OsbBrokerError extends CatalogError {
  readonly code = 'osb_broker_error';
  constructor(
    readonly url: string,
    /** HTTP status the broker answered with, `null` when it could not be reached. */
    readonly status: number | null,
    message: string,
  ) {
    super(message);
    this.name = 'OsbBrokerError';
  }
}

/** The service's listing stage does not allow this (already GA, deprecated, decided already). */
export class StageConflictError extends CatalogError {
  readonly code = 'stage_conflict';
  constructor(
    /** The service's stage, when that is what stands in the way. */
    readonly stage: 'alpha' | 'beta' | 'ga' | 'deprecated' | null,
    message: string,
  ) {
    super(message);
    this.name = 'StageConflictError';
  }
}
