// The scopes a person may grant an API token, each with what it allows: the names and words
// the CLI, the catalog and the broker all use. What each operation needs, and what a scope
// implies, is `@annex/platform`'s scope table (packages/platform/src/scopes.ts), built on these.

/** The scopes of org and platform tokens (admin tokens have them all), each in one line. */
export const SCOPES = {
  'apps:read': 'see apps, add-ons, attachments, config var names, releases, events, webhook settings and deliveries',
  'apps:write':
    'create apps; create, attach, detach, destroy, upgrade, rotate and share add-ons; roll back releases; manage webhooks',
  'config:read': 'read config var values (also the values of non-secret vars in release diffs)',
  'config:write': 'set and unset config vars, without reading their values',
  'billing:read': 'see the billing account, invoices and usage',
  'billing:write': 'change the payment method and spend caps, and anything else that changes money',
  sso: "open add-ons' provider dashboards through single sign-on",
} as const;

export type Scope = keyof typeof SCOPES;

/** What a provider token may be given: its own provider's catalog entries and business. */
export const PROVIDER_SCOPES = {
  'catalog:publish': "publish the provider's manifest to the catalog",
  'provider:read': "see the provider's installations, health, revenue, payouts and listings",
  'provider:write': "invite organizations to the provider's alpha services and change their listings",
} as const;

export type ProviderScope = keyof typeof PROVIDER_SCOPES;
