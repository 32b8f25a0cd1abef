import { missingScopeMessage, type Principal, type ProviderScope, principalHasScope } from '@annex/platform';
import { ForbiddenError } from '../apps/errors.js';
import { NotAuthorizedError } from './errors.js';

/**
 * The one check of a provider's own data (docs/provider-portal.md, "Who sees it"): that
 * provider's token with `scope`, or an admin token. Without a provider token: NotAuthorized;
 * another provider's token, or one without the scope: Forbidden. `what` names the data in the
 * message, e.g. `provider acme's own data` or `the listing of service "vectors"`.
 */
export function checkProviderAccess(
  principal: Principal,
  providerId: string,
  scope: ProviderScope,
  what: string,
): void {
  if (principal.kind === 'admin') return;
  if (principal.kind !== 'provider') {
    throw new NotAuthorizedError(`${what} needs that provider's token (or an admin token)`);
  }
  if (principal.providerId !== providerId) throw new ForbiddenError(`${what} is not for another provider's token`);
  if (!principalHasScope(principal, scope)) throw new ForbiddenError(missingScopeMessage(scope));
}
