import { missingScopeMessage, type ProviderScope, principalHasScope } from '@annex/platform';
import { ForbiddenError } from '../../apps/errors.js';
import { NotAuthorizedError } from '../../domain/errors.js';
import type { Provider } from '../../domain/model.js';
import type { CatalogContext } from '../builder.js';
import { asGraphQLError } from './app-errors.js';

/**
 * The check of every field of a provider's own data (docs/provider-portal.md, "Who sees it"):
 * that provider's token with `scope`, or an admin token. Anyone else gets a typed error
 * (UNAUTHENTICATED without a provider token, FORBIDDEN with another provider's or without
 * the scope), never a silent null. The broker checks the same token again for what it serves.
 */
export function requireProviderAccess(ctx: CatalogContext, provider: Provider, scope: ProviderScope): void {
  const principal = ctx.principal;
  if (principal.kind === 'admin') return;
  if (principal.kind !== 'provider') {
    throw asGraphQLError(
      new NotAuthorizedError(`provider ${provider.slug}'s own data needs that provider's token (or an admin token)`),
    );
  }
  if (principal.providerId !== provider.id) {
    throw asGraphQLError(
      new ForbiddenError(`provider ${provider.slug}'s own data is not for another provider's token`),
    );
  }
  if (!principalHasScope(principal, scope)) throw asGraphQLError(new ForbiddenError(missingScopeMessage(scope)));
}
