import type { ResultOf, ServiceCategory } from '@annex/contracts/graphql';
import express, { type Response } from 'express';
import { type CatalogResult, UpstreamError } from '../catalog-client.js';
import type { ConsoleContext } from '../context.js';
import { AttachPreflightQuery, CatalogPageQuery, CreateAddonMutation, ServicePageQuery } from '../documents.js';
import { missing, partialErrorsOf, Refusal } from '../graphql.js';
import { requireSession } from '../middleware/session.js';
import { addCardLink, catalogPage, errorPage, preflightPage, type ServiceDetail, servicePage } from '../views/pages.js';
import { parametersSchemaOf, readParameters } from '../views/parameters.js';

/** Services per catalog page (the catalog's own limit is 100). */
const CATALOG_PAGE = 50;
const CATEGORIES: readonly ServiceCategory[] = [
  'AI_MODELS',
  'CACHES',
  'DATABASES',
  'EMAIL',
  'LOGGING',
  'MONITORING',
  'OTHER',
  'QUEUES',
  'SEARCH',
];

const attachInput = (query: Record<string, unknown>) => ({
  app: typeof query.app === 'string' ? query.app : '',
  plan: typeof query.plan === 'string' ? query.plan : '',
  as: typeof query.as === 'string' ? query.as.trim() : '',
});

const schemasOf = (service: ServiceDetail) =>
  new Map(service.plans.map((p) => [p.slug, parametersSchemaOf(p.schemas)]));

/** The catalog's search, a service's page, the attach preflight and the attach. */
export function catalogRoutes(c: ConsoleContext): express.Router {
  const { ask, mutate, page, pageContext: ctx } = c;
  const router = express.Router();
  const signedIn = requireSession(c);

  router.get('/catalog', signedIn, async (req, res, next) => {
    try {
      const search = typeof req.query.q === 'string' ? req.query.q.trim().slice(0, 200) : '';
      const category = CATEGORIES.find((known) => known === req.query.category) ?? '';
      const after = typeof req.query.after === 'string' && req.query.after.length <= 500 ? req.query.after : '';
      const from = Math.max(1, Number.parseInt(String(req.query.from ?? '1'), 10) || 1);
      const query = (extra: Record<string, string>) =>
        new URLSearchParams({
          ...(search ? { q: search } : {}),
          ...(category ? { category } : {}),
          ...extra,
        }).toString();
      const firstPage = `/catalog${query({}) ? `?${query({})}` : ''}`;
      let answer: CatalogResult<ResultOf<typeof CatalogPageQuery>>;
      try {
        answer = await ask(res, CatalogPageQuery, {
          filter: { ...(search ? { search } : {}), ...(category ? { category } : {}) },
          first: CATALOG_PAGE,
          ...(after ? { after } : {}),
        });
      } catch (error) {
        // A cursor of another search (or a mangled one) is the catalog's 400: start again.
        if (after && error instanceof UpstreamError && error.status === 400) return void res.redirect(303, firstPage);
        throw error;
      }
      const { data } = answer;
      if (!data.services) throw missing(partialErrorsOf(res), 'services', 'The catalog did not answer.');
      const services = data.services.edges.map((e) => e.node);
      const next = data.services.pageInfo.hasNextPage && data.services.pageInfo.endCursor;
      page(
        res,
        200,
        catalogPage(ctx(req, res), {
          categories: data.categories,
          services,
          search,
          category,
          total: data.services.totalCount,
          from: after ? from : 1,
          ...(next
            ? { nextHref: `/catalog?${query({ after: next, from: String((after ? from : 1) + services.length) })}` }
            : {}),
          ...(after ? { firstHref: firstPage } : {}),
        }),
      );
    } catch (error) {
      next(error);
    }
  });

  const loadService = async (res: Response, slug: string) => {
    const { data, errors } = await ask(res, ServicePageQuery, { slug });
    if (!data.service) throw missing(errors, 'service', `There is no service "${slug}" you can see.`);
    return { service: data.service, apps: data.apps.map((a) => a.name) };
  };

  router.get('/services/:slug', signedIn, async (req, res, next) => {
    try {
      const { service, apps } = await loadService(res, String(req.params.slug));
      page(res, 200, servicePage(ctx(req, res), { service, apps, schemas: schemasOf(service) }));
    } catch (error) {
      next(error);
    }
  });

  router.get('/services/:slug/preflight', signedIn, async (req, res, next) => {
    try {
      const { service, apps } = await loadService(res, String(req.params.slug));
      const input = attachInput(req.query as Record<string, unknown>);
      const plan = service.plans.find((p) => p.slug === input.plan);
      const schemas = schemasOf(service);
      const { parameters, problems } = readParameters(
        schemas.get(input.plan) ?? null,
        req.query as Record<string, unknown>,
      );
      const refuse = (error: string) => page(res, 400, servicePage(ctx(req, res), { service, apps, schemas, error }));
      if (!input.app) return refuse('Choose an app.');
      if (!plan) return refuse('Choose one of the plans.');
      if (problems.length > 0) return refuse(`Parameters: ${problems.join('; ')}`);
      const { data } = await ask(res, AttachPreflightQuery, {
        input: {
          app: input.app,
          plan: `${service.slug}:${plan.slug}`,
          ...(input.as ? { as: input.as } : {}),
          parameters,
        },
      });
      const result = data.attachPreflight;
      if (result.__typename !== 'Preflight') return refuse(result.message ?? 'The preflight failed.');
      page(
        res,
        200,
        preflightPage(ctx(req, res), {
          service: service.slug,
          app: input.app,
          as: input.as,
          parameters,
          preflight: result,
        }),
      );
    } catch (error) {
      next(error);
    }
  });

  router.post('/services/:slug/attach', signedIn, async (req, res, next) => {
    try {
      const body = req.body as Record<string, unknown>;
      const input = attachInput(body);
      let parameters: unknown = {};
      try {
        parameters = JSON.parse(typeof body.parameters === 'string' && body.parameters ? body.parameters : '{}');
      } catch {
        return page(res, 400, errorPage(ctx(req, res), 'Attach refused', 'The parameters are not valid JSON.'));
      }
      let created: { addon: { name: string } };
      try {
        created = await mutate(res, CreateAddonMutation, 'createAddon', {
          app: input.app,
          plan: `${String(req.params.slug)}:${input.plan}`,
          ...(input.as ? { as: input.as } : {}),
          parameters,
        });
      } catch (error) {
        if (!(error instanceof Refusal)) throw error;
        return page(
          res,
          error.status,
          errorPage(
            ctx(req, res),
            'Attach refused',
            error.message,
            error.kind === 'PaymentRequired' ? addCardLink : undefined,
          ),
        );
      }
      res.redirect(303, `/apps/${encodeURIComponent(input.app)}?created=${encodeURIComponent(created.addon.name)}`);
    } catch (error) {
      next(error);
    }
  });

  return router;
}
