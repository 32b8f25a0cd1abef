import * as z from 'zod';
import { parseBody, providerOf } from '../../shared/http/api.js';
import type { ProviderRoutes } from '../../shared/http/provider-portal.js';
import { providerRevenue } from '../domain/provider-revenue.js';

const revenueQuery = z.object({ months: z.coerce.number().int().min(1).max(120).default(12) });

/** The billing module's part of a provider's own data: revenue and payouts (docs/provider-portal.md). */
export const billingProviderRoutes: ProviderRoutes = (route, ctx) => {
  route('GET /v1/providers/:provider/revenue', async (req, res) => {
    const provider = await providerOf(ctx, res, String(req.params.provider));
    const { months } = parseBody(revenueQuery, req.query);
    res.json(await providerRevenue(ctx, provider, months));
  });
};
