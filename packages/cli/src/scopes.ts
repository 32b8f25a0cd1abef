import { PROVIDER_SCOPES as PROVIDER_TOKEN_SCOPES, SCOPES as TOKEN_SCOPES } from '@annex/contracts/scopes';

// The token scopes a person may grant, as the CLI shows and checks them before any request:
// the same table the catalog and the broker read (@annex/contracts).

export { PROVIDER_TOKEN_SCOPES, TOKEN_SCOPES };

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
  const width = Math.max(...[...Object.keys(TOKEN_SCOPES), ...Object.keys(PROVIDER_TOKEN_SCOPES)].map((s) => s.length));
  return [
    'Token scopes (annex admin tokens:create --scope): a :write scope implies its :read, except',
    'config:write (write-only secrets). An org or platform token created without --scope gets every',
    'scope but config:read; admin tokens have every scope.',
    ...Object.entries(TOKEN_SCOPES).map(([scope, what]) => `  ${scope.padEnd(width)}  ${what}`),
    'Provider tokens (all of these when created without --scope):',
    ...Object.entries(PROVIDER_TOKEN_SCOPES).map(([scope, what]) => `  ${scope.padEnd(width)}  ${what}`),
  ];
}
