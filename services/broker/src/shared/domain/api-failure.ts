import { API_ERRORS, type ApiErrorCode } from '@annex/contracts/v1';
import { type AnyScope, type Principal, principalHasScope } from '@annex/platform';

// The codes and their statuses are @annex/contracts' (the OpenAPI document names them too).
export { API_ERRORS, type ApiErrorCode };

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
