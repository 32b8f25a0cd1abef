import express from 'express';
import type { BrokerContext } from '../domain/context.js';
import {
  apiErrorHandler,
  apiInternalErrorHandler,
  authenticateProviderCaller,
  type ScopedRoute,
  scopedRoutes,
} from './api.js';
import { cleanRequestTarget, jsonBody } from './request-input.js';

/** Registers one module's routes of a provider's own data, e.g. `GET /v1/providers/:provider/health`. */
export type ProviderRoutes = (route: ScopedRoute, ctx: BrokerContext) => void;

/**
 * The router of a provider's own data, mounted at `/v1/providers`: a provider token sees its
 * own provider, an admin token every one (`providerOf` in ./api.ts resolves `:provider`).
 * Each module (osb: health, apps: installations, billing: money) registers its routes here;
 * their scopes are in the scope table like every `/v1` route's.
 */
export function providerPortalRouter(
  ctx: BrokerContext,
  modules: readonly ProviderRoutes[],
  /** Check every answer against its contract (@annex/contracts/v1); tests turn it on. */
  options: { checkAnswers?: boolean } = {},
): express.Router {
  const router = express.Router();
  router.use(cleanRequestTarget, jsonBody(64 * 1024));
  router.use(authenticateProviderCaller(ctx));
  const route = scopedRoutes(router, '/v1/providers', { checkAnswers: options.checkAnswers ?? false });
  for (const register of modules) register(route, ctx);
  router.use(apiErrorHandler, apiInternalErrorHandler);
  return router;
}
