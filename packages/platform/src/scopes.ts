import { PROVIDER_SCOPES, type ProviderScope, SCOPES, type Scope } from '@annex/contracts/scopes';
import type { TokenKind } from './db/schema.js';
import type { Principal } from './tokens.js';

// The one table of what an API token may do: the scopes a person grants (their names and
// words are @annex/contracts' `SCOPES`), what each implies,
// and the scope every operation acting for an organization needs, whether it comes in as a
// `/v1` REST route of the broker or a GraphQL root field of the catalog. The broker's routes
// and the catalog's fields read their scope from `OPERATION_SCOPES`; nothing else lists them.

export { PROVIDER_SCOPES, type ProviderScope, SCOPES, type Scope };

/** A scope of any token kind: org and platform scopes, and provider scopes. */
export type AnyScope = Scope | ProviderScope;

/** Every scope, in table order. */
export const ALL_SCOPES: readonly Scope[] = Object.freeze(Object.keys(SCOPES) as Scope[]);

/**
 * What a `:write` scope grants besides itself. `config:write` implies nothing: a token that
 * sets CI secrets need not read them back (write-only, like Heroku's write-protected).
 */
const IMPLIES: Readonly<Partial<Record<AnyScope, readonly AnyScope[]>>> = {
  'apps:write': ['apps:read'],
  'billing:write': ['billing:read'],
  'provider:write': ['provider:read'],
};

/**
 * What an org or platform token created without scopes gets, stored explicitly: every
 * scope except `config:read`, so it can do everything but read config var values.
 */
export const DEFAULT_TOKEN_SCOPES: readonly Scope[] = Object.freeze(ALL_SCOPES.filter((s) => s !== 'config:read'));

/** What a console session's token gets, by the member's role in the organization. */
export const ROLE_SCOPES: Readonly<Record<'admin' | 'member', readonly Scope[]>> = Object.freeze({
  admin: ALL_SCOPES,
  member: Object.freeze(ALL_SCOPES.filter((s) => s !== 'config:read' && s !== 'billing:write')),
});

/**
 * What a console session's provider token gets, by the person's role in the provider: an
 * admin also invites organizations and changes listings; neither publishes (that stays with
 * the provider's own publishing tokens).
 */
export const PROVIDER_ROLE_SCOPES: Readonly<Record<'admin' | 'member', readonly ProviderScope[]>> = Object.freeze({
  admin: Object.freeze(['provider:read', 'provider:write'] as const),
  member: Object.freeze(['provider:read'] as const),
});

/** The value of a config var (pulled, or in a release diff) is shown only with this scope. */
export const CONFIG_VALUES_SCOPE: Scope = 'config:read';

/**
 * The scope each operation needs. REST keys are `METHOD /v1/path` exactly as the broker
 * mounts the route; GraphQL keys are `Type.field` of the catalog's root types. Routes and
 * fields that do not act for an organization are not here: the public catalog, the
 * provider callbacks (`/v1/provider/*`, signed by the broker), Stripe's webhook (signed by
 * Stripe), publishing (provider tokens) and administration (admin tokens). A provider's own
 * data (`/v1/providers/:provider/...`, provider or admin tokens) needs a provider scope.
 */
export const OPERATION_SCOPES = {
  // Apps, add-ons, attachments (docs/apps.md)
  'GET /v1/apps': 'apps:read',
  'POST /v1/apps': 'apps:write',
  'GET /v1/apps/:app': 'apps:read',
  'GET /v1/addons': 'apps:read',
  'GET /v1/addons/:addon': 'apps:read',
  'POST /v1/apps/:app/addons/preflight': 'apps:read',
  'POST /v1/apps/:app/addons': 'apps:write',
  'POST /v1/apps/:app/attachments/preflight': 'apps:read',
  'POST /v1/apps/:app/attachments': 'apps:write',
  'DELETE /v1/apps/:app/attachments/:name': 'apps:write',
  'DELETE /v1/addons/:addon': 'apps:write',
  'PATCH /v1/addons/:addon': 'apps:write',
  'POST /v1/addons/:addon/rotate': 'apps:write',
  'GET /v1/addons/:addon/shares': 'apps:read',
  'POST /v1/addons/:addon/shares': 'apps:write',
  'DELETE /v1/addons/:addon/shares/:organization': 'apps:write',
  // Config vars and releases
  'GET /v1/apps/:app/config-vars': CONFIG_VALUES_SCOPE,
  'GET /v1/apps/:app/config-var-names': 'apps:read',
  'PATCH /v1/apps/:app/config-vars': 'config:write',
  // A platform confirms it applied a release: the old credentials of a rotation go at once.
  'POST /v1/apps/:app/config-vars/confirm': 'apps:write',
  'GET /v1/apps/:app/releases': 'apps:read',
  'POST /v1/apps/:app/releases/rollback': 'apps:write',
  'GET /v1/apps/:app/events': 'apps:read',
  // Webhooks of the calling platform and their deliveries
  'GET /v1/platforms/self/webhook': 'apps:read',
  'PUT /v1/platforms/self/webhook': 'apps:write',
  'DELETE /v1/platforms/self/webhook': 'apps:write',
  'POST /v1/platforms/self/webhook/rotate': 'apps:write',
  'GET /v1/webhook-deliveries': 'apps:read',
  'POST /v1/webhook-deliveries/:id/redeliver': 'apps:write',
  // Billing (docs/billing.md); the last two are for admin tokens only besides.
  'GET /v1/billing/account': 'billing:read',
  'POST /v1/billing/setup-intent': 'billing:write',
  'POST /v1/billing/card-checkout': 'billing:write',
  'PUT /v1/billing/payment-method': 'billing:write',
  'PUT /v1/billing/spend-caps': 'billing:write',
  'GET /v1/billing/invoices': 'billing:read',
  'GET /v1/billing/invoices/:id': 'billing:read',
  'GET /v1/billing/usage': 'billing:read',
  'PUT /v1/billing/providers/:provider': 'billing:write',
  'POST /v1/billing/jobs/:job': 'billing:write',
  // Single sign-on
  'POST /v1/addons/:addon/sso': 'sso',
  // A provider's own data (docs/provider-portal.md), provider or admin tokens
  'GET /v1/providers/:provider/health': 'provider:read',
  'GET /v1/providers/:provider/installations': 'provider:read',
  'GET /v1/providers/:provider/installations/activity': 'provider:read',
  'GET /v1/providers/:provider/revenue': 'provider:read',

  // GraphQL (the catalog asks the broker with the caller's token, which checks again)
  'Query.apps': 'apps:read',
  'Query.app': 'apps:read',
  'Query.addon': 'apps:read',
  'Query.attachPreflight': 'apps:read',
  'Query.billingAccount': 'billing:read',
  'Query.invoices': 'billing:read',
  'Query.usage': 'billing:read',
  'Subscription.addonEvents': 'apps:read',
  'Mutation.createApp': 'apps:write',
  'Mutation.createAddon': 'apps:write',
  'Mutation.attachAddon': 'apps:write',
  'Mutation.detachAddon': 'apps:write',
  'Mutation.destroyAddon': 'apps:write',
  'Mutation.changeAddonPlan': 'apps:write',
  'Mutation.rotateAddonCredentials': 'apps:write',
  'Mutation.shareAddon': 'apps:write',
  'Mutation.unshareAddon': 'apps:write',
  'Mutation.rollbackConfig': 'apps:write',
  'Mutation.setConfigVars': 'config:write',
  'Mutation.openAddonDashboard': 'sso',
  'Mutation.startCardCheckout': 'billing:write',
  // A provider's listings (provider tokens of that provider, or admins; docs/provider-portal.md)
  'Mutation.inviteToAlpha': 'provider:write',
  'Mutation.revokeAlphaInvitation': 'provider:write',
  'Mutation.requestGeneralAvailability': 'provider:write',
} as const satisfies Record<string, AnyScope>;

export type Operation = keyof typeof OPERATION_SCOPES;
/** A `/v1` route of the broker, e.g. `DELETE /v1/addons/:addon`. */
export type RestOperation = Extract<Operation, `${'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'} /${string}`>;
/** A root field of the catalog's schema, e.g. `Mutation.destroyAddon`. */
export type GraphqlOperation = Extract<Operation, `${'Query' | 'Mutation' | 'Subscription'}.${string}`>;
/** An operation acting for an organization (its scope is an org or platform token's), not a provider's. */
export type OrganizationOperation = {
  [K in Operation]: (typeof OPERATION_SCOPES)[K] extends Scope ? K : never;
}[Operation];

/** Whether granted scopes (as a token stores them) include `scope`, directly or by implication. */
export function scopesGrant(granted: readonly string[], scope: AnyScope): boolean {
  return granted.some((g) => g === scope || (IMPLIES[g as AnyScope]?.includes(scope) ?? false));
}

/** Whether the caller may do what needs `scope`: admin tokens may do everything. */
export function principalHasScope(principal: Principal, scope: AnyScope): boolean {
  if (principal.kind === 'admin') return true;
  if (principal.kind === 'anonymous') return false;
  return scopesGrant(principal.scopes, scope);
}

/** The scope names a token of `kind` may be given. */
export function validScopes(kind: TokenKind): readonly string[] {
  return kind === 'provider' ? Object.keys(PROVIDER_SCOPES) : ALL_SCOPES;
}

/** The names in `scopes` a token of `kind` cannot have (empty when all are valid). */
export function unknownScopes(kind: TokenKind, scopes: readonly string[]): string[] {
  const valid = validScopes(kind);
  return scopes.filter((s) => !valid.includes(s));
}

/**
 * The scopes stored for a new token: the given ones, or, when none are given, the default
 * of its kind (org and platform: `DEFAULT_TOKEN_SCOPES`; provider: publishing; admin tokens
 * need none, they have every scope).
 */
export function scopesForNewToken(kind: TokenKind, scopes: readonly string[] | undefined): string[] {
  const unknown = unknownScopes(kind, scopes ?? []);
  if (unknown.length > 0) {
    throw new Error(
      `unknown scope${unknown.length === 1 ? '' : 's'} ${unknown.join(', ')}; ${kind} tokens may have: ${validScopes(kind).join(', ')}`,
    );
  }
  if (scopes && scopes.length > 0) return [...new Set(scopes)];
  if (kind === 'org' || kind === 'platform') return [...DEFAULT_TOKEN_SCOPES];
  if (kind === 'provider') return Object.keys(PROVIDER_SCOPES);
  return [];
}

/** The message of a refusal for lacking `scope`, the same in REST and GraphQL. */
export function missingScopeMessage(scope: AnyScope): string {
  const words = scope in SCOPES ? SCOPES[scope as Scope] : PROVIDER_SCOPES[scope as ProviderScope];
  return `this needs a token with the ${scope} scope (${words})`;
}
