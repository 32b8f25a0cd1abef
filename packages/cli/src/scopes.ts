// The token scopes a person may grant, as the CLI shows and checks them before any request.
// The catalog is the authority (`SCOPES` and `PROVIDER_SCOPES` of @annex/platform, which the CLI
// does not load at run time); scopes.test.ts fails when this copy differs from them.

/** Scopes of org and platform tokens (admin tokens have them all), with what each allows. */
export const TOKEN_SCOPES: Readonly<Record<string, string>> = Object.freeze({
  'apps:read': 'see apps, add-ons, attachments, config var names, releases, events, webhook settings and deliveries',
  'apps:write':
    'create apps; create, attach, detach, destroy, upgrade, rotate and share add-ons; roll back releases; manage webhooks',
  'config:read': 'read config var values (also the values of non-secret vars in release diffs)',
  'config:write': 'set and unset config vars, without reading their values',
  'billing:read': 'see the billing account, invoices and usage',
  'billing:write': 'change the payment method and spend caps, and anything else that changes money',
  sso: "open add-ons' provider dashboards through single sign-on",
});

/** The scope of provider tokens. */
export const PROVIDER_TOKEN_SCOPES: Readonly<Record<string, string>> = Object.freeze({
  'catalog:publish': "publish the provider's manifest to the catalog",
});

/** `--scope` values: repeated, or comma-separated, or both; blanks dropped. */
export function scopeList(values: readonly string[]): string[] {
  return values.flatMap((value) => value.split(',').map((s) => s.trim())).filter((s) => s !== '');
}

/** The names a token of `kind` may not have, with the message naming the valid ones; null when all are valid. */
export function scopeProblem(kind: string, scopes: readonly string[]): string | null {
  const valid = Object.keys(kind === 'provider' ? PROVIDER_TOKEN_SCOPES : TOKEN_SCOPES);
  const unknown = scopes.filter((s) => !valid.includes(s));
  if (unknown.length === 0) return null;
  return `unknown scope${unknown.length === 1 ? '' : 's'} ${unknown.join(', ')}; ${kind} tokens may have: ${valid.join(', ')}`;
}

/** The scope lines of `annex help`. */
export function scopeHelp(): string[] {
  const width = Math.max(...Object.keys(TOKEN_SCOPES).map((s) => s.length));
  return [
    'Token scopes (annex admin tokens:create --scope): a :write scope implies its :read, except',
    'config:write (write-only secrets). An org or platform token created without --scope gets every',
    'scope but config:read; admin tokens have every scope; provider tokens have catalog:publish.',
    ...Object.entries(TOKEN_SCOPES).map(([scope, what]) => `  ${scope.padEnd(width)}  ${what}`),
  ];
}
