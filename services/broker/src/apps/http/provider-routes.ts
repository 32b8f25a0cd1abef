import { addonState } from '@annex/contracts/v1';
import * as z from 'zod';
import { parseBody, providerOf } from '../../shared/http/api.js';
import type { ProviderRoutes } from '../../shared/http/provider-portal.js';
import {
  MAX_INSTALLATIONS_PAGE,
  providerInstallationActivity,
  providerInstallations,
} from '../domain/provider-installations.js';

const installationsQuery = z.object({
  plan: z.string().min(1).max(64).optional(),
  state: addonState.optional(),
  after: z.string().min(1).max(200).optional(),
  first: z.coerce.number().int().min(1).max(MAX_INSTALLATIONS_PAGE).default(20),
});
const activityQuery = z.object({ days: z.coerce.number().int().min(1).max(366).default(30) });

/** The apps module's part of a provider's own data: its installations (docs/provider-portal.md). */
export const appsProviderRoutes: ProviderRoutes = (route, ctx) => {
  route('GET /v1/providers/:provider/installations', async (req, res) => {
    const provider = await providerOf(ctx, res, String(req.params.provider));
    const query = parseBody(installationsQuery, req.query);
    res.json(await providerInstallations(ctx.db, provider.id, query));
  });
  route('GET /v1/providers/:provider/installations/activity', async (req, res) => {
    const provider = await providerOf(ctx, res, String(req.params.provider));
    const { days } = parseBody(activityQuery, req.query);
    res.json(await providerInstallationActivity(ctx.db, provider.id, days));
  });
};
