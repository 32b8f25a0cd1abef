import type { ProviderScope } from '@annex/platform';
import type { Provider } from '../../domain/model.js';
import { checkProviderAccess } from '../../domain/provider-access.js';
import type { CatalogContext } from '../builder.js';
import { asGraphQLError } from './app-errors.js';

/**
 * The check of every field of a provider's own data (docs/provider-portal.md, "Who sees it"):
 * that provider's token with `scope`, or an admin token. Anyone else gets a typed error
 * (UNAUTHENTICATED without a provider token, FORBIDDEN with another provider's or without
 * the scope), never a silent null. The broker checks the same token again for what it serves.
 */
export function requireProviderAccess(ctx: CatalogContext, provider: Provider, scope: ProviderScope): void {
  try {
    checkProviderAccess(ctx.principal, provider.id, scope, `provider ${provider.slug}'s own data`);
  } catch (error) {
    throw asGraphQLError(error);
  }
}
