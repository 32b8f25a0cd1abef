import { type AnyScope, type Principal, principalHasScope } from '@annex/platform';

/** Error codes of the `/v1` REST API (docs/apps.md), each with its HTTP status. */
export const API_ERRORS = {
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  invalid_input: 400,
  name_taken: 409,
  var_collision: 409,
  conflict: 409,
  not_offered: 422,
  /** Billing: a paid plan needs a default payment method (docs/billing.md). */
  payment_required: 402,
  provider_failed: 502,
  /** The database cannot be reached; retry after `Retry-After` seconds. */
  unavailable: 503,
} as const;
export type ApiErrorCode = keyof typeof API_ERRORS;

/** A refusal of the `/v1` API: answered as `{error, message, field?, name?}`; nothing was changed. */
export class ApiFailure extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly extra: { field?: string; name?: string; owner?: string; scope?: AnyScope } = {},
  ) {
    super(message);
    this.name = 'ApiFailure';
  }
}

export const invalidInput = (field: string, message: string) =>
  new ApiFailure('invalid_input', `${field}: ${message}`, { field });
export const notFoundFailure = (what: string) => new ApiFailure('not_found', `${what} not found`);

/** An authenticated caller of the `/v1` API. */
export interface ApiCaller {
  principal: Exclude<Principal, { kind: 'anonymous' } | { kind: 'provider' }>;
  /** Ids of the organizations whose apps the caller may see; `'all'` for admins. */
  organizationIds: readonly string[] | 'all';
  scopes: readonly string[];
}

/** Whether the caller may see an organization's apps. */
export function mayAccess(caller: ApiCaller, organizationId: string): boolean {
  return caller.organizationIds === 'all' || caller.organizationIds.includes(organizationId);
}

/** Whether the caller's token has `scope`, directly or implied (admin tokens have every scope). */
export function hasScope(caller: ApiCaller | ProviderCaller, scope: AnyScope): boolean {
  return principalHasScope(caller.principal, scope);
}

/**
 * An authenticated caller of the provider's own routes (`/v1/providers/:provider/...`): a
 * provider token, which sees its own provider only, or an admin token, which sees every one.
 */
export interface ProviderCaller {
  principal: Extract<Principal, { kind: 'provider' } | { kind: 'admin' }>;
  /** Ids of the providers the caller may see; `'all'` for admins. */
  providerIds: readonly string[] | 'all';
}
