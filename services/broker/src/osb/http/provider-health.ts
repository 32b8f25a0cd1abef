import { invalidInput } from '../../shared/domain/api-failure.js';
import { providerOf } from '../../shared/http/api.js';
import type { ProviderRoutes } from '../../shared/http/provider-portal.js';
import { providerHealth } from '../domain/provider-health.js';

/**
 * `GET /v1/providers/:provider/health[?service=slug]`: the provider's calls as the broker
 * recorded them (docs/provider-portal.md, "Health"), for its own token or an admin's.
 */
export const providerHealthRoutes: ProviderRoutes = (route, ctx) => {
  route('GET /v1/providers/:provider/health', async (req, res) => {
    const provider = await providerOf(ctx, res, req.params.provider as string);
    const service = req.query.service;
    if (service !== undefined && (typeof service !== 'string' || service === '')) {
      throw invalidInput('service', 'must be one service slug');
    }
    res.json(await providerHealth(ctx, provider, service));
  });
};
