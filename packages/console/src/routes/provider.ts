import { print } from '@0no-co/graphql.web';
import type { ResultOf } from '@annex/contracts/graphql';
import express, { type Response } from 'express';
import { UpstreamError } from '../catalog-client.js';
import type { ConsoleContext } from '../context.js';
import {
  InviteToAlphaMutation,
  ProviderHealthQuery,
  ProviderInstallationsQuery,
  ProviderListingQuery,
  ProviderOverviewQuery,
  ProviderPayoutsQuery,
} from '../documents.js';
import { missing, partialErrorsOf } from '../graphql.js';
import { providerTokenOf, requireProviderMember, signedInSession } from '../middleware/session.js';
import {
  providerHealthPage,
  providerInstallationsPage,
  providerListingPage,
  providerOverviewPage,
  providerPayoutsPage,
} from '../views/provider-pages.js';

// The Provider section (docs/provider-portal.md, "Console"), for members of a provider only:
// every page asks the catalog with the session's provider token, so the catalog and the
// broker decide what it shows, as for an organization's pages.

const INSTALLATIONS_PAGE = 25;
const STATES = [
  'provisioning',
  'provisioned',
  'changing_plan',
  'failed',
  'destroying',
  'destroyed',
  'suspended',
] as const;
type State = (typeof STATES)[number];

export function providerRoutes(c: ConsoleContext): express.Router {
  const { askAsProvider, page, pageContext: ctx } = c;
  const router = express.Router();
  const member = requireProviderMember(c);
  const slugOf = (res: Response) => signedInSession(res).provider?.slug as string;
  /** The provider a query answered; a null one (a membership revoked meanwhile) is a page that says so. */
  const providerOf = <T>(res: Response, provider: T | null | undefined): T => {
    if (!provider)
      throw missing(partialErrorsOf(res), 'provider', 'This provider is not visible with your session; sign in again.');
    return provider;
  };

  router.get('/provider', ...member, async (req, res, next) => {
    try {
      const { data } = await askAsProvider(res, ProviderOverviewQuery, { slug: slugOf(res) });
      page(res, 200, providerOverviewPage(ctx(req, res), providerOf(res, data.provider)));
    } catch (error) {
      next(error);
    }
  });

  router.get('/provider/installations', ...member, async (req, res, next) => {
    try {
      const plan = typeof req.query.plan === 'string' ? req.query.plan.slice(0, 64) : '';
      const state = STATES.find((s) => s === req.query.state) ?? '';
      const after = typeof req.query.after === 'string' && req.query.after.length <= 200 ? req.query.after : '';
      const from = Math.max(1, Number.parseInt(String(req.query.from ?? '1'), 10) || 1);
      const query = (extra: Record<string, string>) =>
        new URLSearchParams({ ...(plan ? { plan } : {}), ...(state ? { state } : {}), ...extra }).toString();
      const firstPage = `/provider/installations${query({}) ? `?${query({})}` : ''}`;
      let data: ResultOf<typeof ProviderInstallationsQuery>;
      try {
        ({ data } = await askAsProvider(res, ProviderInstallationsQuery, {
          slug: slugOf(res),
          first: INSTALLATIONS_PAGE,
          ...(after ? { after } : {}),
          ...(plan ? { plan } : {}),
          ...(state ? { state: state.toUpperCase() as Uppercase<State> } : {}),
        }));
      } catch (error) {
        if (after && error instanceof UpstreamError && error.status === 400) return void res.redirect(303, firstPage);
        throw error;
      }
      const provider = providerOf(res, data.provider);
      // A cursor that is not one of this listing (a mangled link): start it again.
      if (after && !provider.installations && partialErrorsOf(res).some((e) => e.message.startsWith('after:'))) {
        return void res.redirect(303, firstPage);
      }
      const installations = provider.installations;
      const shown = installations?.edges.length ?? 0;
      const next = installations?.pageInfo.hasNextPage && installations.pageInfo.endCursor;
      page(
        res,
        200,
        providerInstallationsPage(ctx(req, res), provider, {
          plan,
          state,
          from: after ? from : 1,
          ...(next
            ? {
                nextHref: `/provider/installations?${query({ after: next, from: String((after ? from : 1) + shown) })}`,
              }
            : {}),
          ...(after ? { firstHref: firstPage } : {}),
        }),
      );
    } catch (error) {
      next(error);
    }
  });

  router.get('/provider/payouts', ...member, async (req, res, next) => {
    try {
      const { data } = await askAsProvider(res, ProviderPayoutsQuery, { slug: slugOf(res) });
      page(res, 200, providerPayoutsPage(ctx(req, res), providerOf(res, data.provider)));
    } catch (error) {
      next(error);
    }
  });

  router.get('/provider/health', ...member, async (req, res, next) => {
    try {
      const { data } = await askAsProvider(res, ProviderHealthQuery, { slug: slugOf(res) });
      page(res, 200, providerHealthPage(ctx(req, res), providerOf(res, data.provider)));
    } catch (error) {
      next(error);
    }
  });

  const listing = async (res: Response) =>
    providerOf(res, (await askAsProvider(res, ProviderListingQuery, { slug: slugOf(res) })).data.provider);

  router.get('/provider/listing', ...member, async (req, res, next) => {
    try {
      const invited = typeof req.query.invited === 'string' ? req.query.invited.slice(0, 64) : '';
      const service = typeof req.query.service === 'string' ? req.query.service.slice(0, 64) : '';
      page(
        res,
        200,
        providerListingPage(
          ctx(req, res),
          await listing(res),
          invited ? { kind: 'done', message: `Invited ${invited} to ${service}.` } : undefined,
        ),
      );
    } catch (error) {
      next(error);
    }
  });

  // Inviting an organization to an ALPHA service (provider:write: the provider's admins). The
  // catalog refuses what is wrong (no such organization, not ALPHA, a member's token) and the
  // page says so with nothing changed.
  router.post('/provider/listing/invite', ...member, async (req, res, next) => {
    try {
      const body = req.body as Record<string, unknown>;
      const service = String(body.service ?? '').trim();
      const organization = String(body.organization ?? '').trim();
      const { data, errors } = await c.catalog.query<ResultOf<typeof InviteToAlphaMutation>>(
        providerTokenOf(res),
        print(InviteToAlphaMutation),
        { input: { service, organization } },
      );
      partialErrorsOf(res).push(...errors);
      const result = data.inviteToAlpha;
      if (result?.__typename === 'AlphaInvitationChange') {
        return void res.redirect(
          303,
          `/provider/listing?${new URLSearchParams({ invited: organization, service }).toString()}`,
        );
      }
      const message = result && 'message' in result ? result.message : 'the catalog gave no answer';
      const status = { NotFound: 404, Forbidden: 403, NotAuthorized: 403 }[result?.__typename ?? ''] ?? 502;
      page(res, status, providerListingPage(ctx(req, res), await listing(res), { kind: 'error', message }));
    } catch (error) {
      next(error);
    }
  });

  return router;
}
