import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { print } from '@0no-co/graphql.web';
import type { Document, ResultOf, ServiceCategory, VariablesOf } from '@annex/contracts/graphql';
import { createJobRunner, type Database, every, type Logger, type SecretBox } from '@annex/platform';
import express, { type NextFunction, type Request, type Response } from 'express';
import { assembleBilling, billingDocuments } from './billing.js';
import {
  type CatalogClient,
  type CatalogResult,
  createCatalogClient,
  errorAt,
  type FieldError,
  UpstreamError,
} from './catalog-client.js';
import type { ConsoleConfig } from './config.js';
import {
  AppPageQuery,
  AppsListQuery,
  AttachPreflightQuery,
  BillingAddonsQuery,
  CatalogPageQuery,
  ChangeAddonPlanMutation,
  CreateAddonMutation,
  CreateAppMutation,
  DestroyAddonMutation,
  DetachAddonMutation,
  OpenAddonDashboardMutation,
  RollbackConfigMutation,
  RotateAddonCredentialsMutation,
  ServicePageQuery,
  SetConfigVarsMutation,
} from './documents.js';
import { createOidcSignIn, type LoginTransaction, type OidcSignIn, SignInError } from './oidc.js';
import {
  applyOrganizationGrants,
  createSession,
  csrfMatches,
  endSession,
  type Identity,
  loadSession,
  type OrganizationGrant,
  parseOrganizationClaim,
  type Session,
  sweepExpiredSessions,
  switchOrganization,
  upsertUser,
} from './sessions.js';
import { type PageContext, partialFailure } from './views/layout.js';
import {
  APP_NOTICES,
  type AppDetail,
  type AppNotice,
  type AppPageOptions,
  appPage,
  appsPage,
  billingPage,
  catalogPage,
  errorPage,
  preflightPage,
  type ServiceDetail,
  servicePage,
  signInPage,
} from './views/pages.js';
import { parametersSchemaOf, readParameters } from './views/parameters.js';

export interface ConsoleDeps {
  database: Database;
  secretBox: SecretBox;
  logger: Logger;
  /** The catalog's GraphQL client; by default one of `config.catalogUrl` (tests record its queries). */
  catalog?: CatalogClient;
}

export interface Console {
  app: express.Express;
  /** The public URL the console was built for (redirect URI base). */
  publicUrl: string;
  /**
   * Starts the console's job runner: the sweep of expired sessions, once per
   * `SESSION_SWEEP_MS` period across every console process (at once when this period's has not run).
   */
  start(): void;
  /** Stops the job runner; resolves once a sweep under way has ended. */
  close(): Promise<void>;
}

/** How often expired sessions are removed (by one console process per period). */
export const SESSION_SWEEP_MS = 10 * 60_000;

/** The console's background jobs and their payloads. */
export type ConsoleJobs = {
  'console.session-sweep': Record<string, never>;
};

/** The identity of the development sign-in (only without an OIDC issuer). */
export const DEVELOPMENT_ISSUER = 'annex-development';

// Static assets sit next to this module: src/public in the sources, dist/public in the build
// (the build copies them).
const asset = (name: string) => readFileSync(new URL(`./public/${name}`, import.meta.url), 'utf8');
const ASSETS = { 'console.css': asset('console.css'), 'console.js': asset('console.js') };

/**
 * The web console: server-rendered pages over the catalog's GraphQL API, with sessions in
 * the database. `publicUrl` must be where browsers reach it (the OIDC redirect URI base;
 * `https` makes the cookies `Secure` and `__Host-`).
 */
export function createConsole(config: ConsoleConfig & { publicUrl: string }, deps: ConsoleDeps): Console {
  const { database, secretBox: box, logger } = deps;
  const db = database.db;
  const publicUrl = config.publicUrl.replace(/\/+$/, '');
  const publicOrigin = new URL(publicUrl).origin;
  const secure = publicUrl.startsWith('https://');
  const cookieName = (name: string) => (secure ? `__Host-${name}` : name);
  const SESSION_COOKIE = cookieName('annex_session');
  const LOGIN_COOKIE = cookieName('annex_login');
  const ANON_CSRF_COOKIE = cookieName('annex_csrf');
  const cookieOptions = { httpOnly: true, sameSite: 'lax' as const, secure, path: '/' };
  const catalog: CatalogClient = deps.catalog ?? createCatalogClient(config.catalogUrl);
  const oidc: OidcSignIn | null = config.oidc
    ? createOidcSignIn({ ...config.oidc, redirectUri: `${publicUrl}/auth/callback` })
    : null;

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.use((_req, res, next) => {
    res.set({
      'content-security-policy':
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'",
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'same-origin',
      'cache-control': 'no-store',
    });
    next();
  });
  app.get('/static/:file', (req, res) => {
    const file = req.params.file as keyof typeof ASSETS;
    if (!(file in ASSETS)) return void res.status(404).type('text').send('not found');
    res
      .type(file.endsWith('.css') ? 'text/css' : 'text/javascript')
      .set('cache-control', 'public, max-age=300')
      .send(ASSETS[file]);
  });
  app.get('/healthz', (_req, res) => void res.json({ status: 'ok' }));
  app.use(express.urlencoded({ extended: false, limit: '64kb', parameterLimit: 200 }));
  // A POST without a form body (express 5 leaves req.body undefined) reads as an empty form.
  app.use((req, _res, next) => {
    req.body ??= {};
    next();
  });

  // Session: from the cookie, in the database; `res.locals.session` is null when signed out.
  app.use(async (req, res, next) => {
    try {
      const id = readCookie(req, SESSION_COOKIE);
      res.locals.session = id ? await loadSession(db, box, id) : null;
      next();
    } catch (error) {
      next(error);
    }
  });

  // CSRF: every state-changing request carries the session's synchronizer token (or, signed
  // out, the double-submit cookie's), and a cross-site Origin is refused outright.
  app.use((req, res, next) => {
    if (req.method === 'GET' || req.method === 'HEAD') return next();
    const origin = req.get('origin');
    const submitted = (req.body as Record<string, unknown> | undefined)?._csrf ?? req.get('x-csrf-token');
    const session = res.locals.session as Session | null;
    const expected = session ? session.csrfToken : readCookie(req, ANON_CSRF_COOKIE);
    if ((origin && origin !== publicOrigin) || !expected || !csrfMatches(expected, submitted)) {
      res
        .status(403)
        .type('html')
        .send(
          errorPage(
            ctx(req, res),
            'Request refused',
            'This form has expired or did not come from this console (CSRF check failed). Reload the page and try again.',
          ),
        );
      return;
    }
    next();
  });

  const ctx = (req: Request, res: Response): PageContext => ({
    session: (res.locals.session as Session | null) ?? null,
    path: req.path,
    developmentSignIn: oidc === null,
    partialErrors: partialErrorsOf(res).map((e) => e.message),
  });
  const page = (res: Response, status: number, body: string) => void res.status(status).type('html').send(body);

  const requireSession = (req: Request, res: Response, next: NextFunction) => {
    const session = res.locals.session as Session | null;
    if (!session) return void res.redirect(303, `/signin?returnTo=${encodeURIComponent(req.originalUrl)}`);
    if (!session.organization || !session.apiToken) {
      return page(
        res,
        403,
        errorPage(
          ctx(req, res),
          'No organization',
          'Your account belongs to no organization on this installation. Ask an administrator to add you.',
        ),
      );
    }
    next();
  };
  const tokenOf = (res: Response) => (res.locals.session as Session).apiToken as string;
  const isAdmin = (res: Response) => (res.locals.session as Session).organization?.role === 'admin';
  /**
   * After `requireSession`: the forms that change or remove what an app already runs with
   * (its add-ons, credentials, config vars, releases) are for the organization's admins, the
   * same role that reveals values. The org token itself could do them; the console decides.
   */
  const requireAdmin = (what: string) => (req: Request, res: Response, next: NextFunction) => {
    if (isAdmin(res)) return next();
    const org = (res.locals.session as Session).organization?.slug ?? '';
    page(
      res,
      403,
      errorPage(ctx(req, res), 'Not allowed', `${what} needs the admin role in ${org}; nothing was changed.`),
    );
  };

  // A partial answer (data with errors) still renders: the page shows what arrived, and the
  // layout says what failed. Only a null the catalog gave no error about is "not found".
  const partialErrorsOf = (res: Response): FieldError[] => {
    res.locals.partialErrors ??= [];
    return res.locals.partialErrors as FieldError[];
  };
  const ask = async <D extends Document>(
    res: Response,
    document: D,
    ...variables: VariablesOf<D> extends Record<string, never> ? [] : [VariablesOf<D>]
  ): Promise<CatalogResult<ResultOf<D>>> => {
    const result = await catalog.query<ResultOf<D>>(tokenOf(res), print(document), variables[0]);
    partialErrorsOf(res).push(...result.errors);
    return result;
  };
  /** The error for a null `field`: its failure when the catalog reported one, else `notFound` (404). */
  const missing = (errors: readonly FieldError[], field: string, notFound: string) => {
    const failure = errorAt(errors, field);
    return failure ? new UpstreamError(partialFailure([failure.message]), 502) : new UpstreamError(notFound, 404);
  };
  /**
   * Runs a mutation of the apps (documents.ts) whose field `field` is a result union and
   * answers its `${Field}Success` member; any other member is thrown as a `Refusal`.
   */
  type SuccessOf<D extends Document, F extends keyof ResultOf<D> & string> = Extract<
    NonNullable<ResultOf<D>[F]>,
    { __typename: `${Capitalize<F>}Success` }
  >;
  const mutate = async <D extends Document, F extends keyof ResultOf<D> & string>(
    res: Response,
    document: D,
    field: F,
    input: VariablesOf<D> extends { input: infer I } ? I : never,
  ): Promise<SuccessOf<D, F>> => {
    const { data, errors } = await catalog.query<ResultOf<D>>(tokenOf(res), print(document), { input });
    partialErrorsOf(res).push(...errors);
    const result = data[field] as { __typename: string; message?: string } | null | undefined;
    if (!result) throw new UpstreamError(errorAt(errors, field)?.message ?? 'the catalog gave no answer', 502);
    if (result.__typename !== `${field.charAt(0).toUpperCase()}${field.slice(1)}Success`) {
      throw new Refusal(result.message ?? result.__typename, REFUSAL_STATUS[result.__typename] ?? 502);
    }
    return result as SuccessOf<D, F>;
  };

  // ----- sign-in and sign-out -----

  const safeReturnTo = (value: unknown) =>
    typeof value === 'string' && value.startsWith('/') && !value.startsWith('//') && !value.startsWith('/\\')
      ? value
      : '/catalog';

  app.get('/', (_req, res) => void res.redirect(303, res.locals.session ? '/catalog' : '/signin'));

  app.get('/signin', (req, res) => {
    if (res.locals.session) return void res.redirect(303, safeReturnTo(req.query.returnTo));
    const csrf = randomBytes(24).toString('base64url');
    res.cookie(ANON_CSRF_COOKIE, csrf, { ...cookieOptions, maxAge: 3600_000 });
    page(
      res,
      200,
      signInPage(ctx(req, res), { issuer: oidc?.issuer ?? null, csrf, returnTo: safeReturnTo(req.query.returnTo) }),
    );
  });

  const startSession = async (
    res: Response,
    identity: Identity,
    grants: OrganizationGrant[] | null,
    returnTo: string,
    idToken?: string,
  ) => {
    const user = await upsertUser(db, identity);
    const { unknown } = await applyOrganizationGrants(db, user.id, grants, config.defaultOrganization);
    if (unknown.length > 0) logger.warn({ user: user.id, unknown }, 'sign-in names organizations that do not exist');
    const { sessionId } = await createSession(db, box, {
      userId: user.id,
      who: identity.email || identity.subject,
      ttlSeconds: config.sessionTtlSeconds,
      idToken,
    });
    res.cookie(SESSION_COOKIE, sessionId, { ...cookieOptions, maxAge: config.sessionTtlSeconds * 1000 });
    res.clearCookie(LOGIN_COOKIE, cookieOptions);
    res.clearCookie(ANON_CSRF_COOKIE, cookieOptions);
    res.redirect(303, returnTo);
  };

  app.get('/auth/login', async (req, res, next) => {
    if (!oidc) return void res.redirect(303, '/signin');
    try {
      const { url, transaction } = await oidc.begin(safeReturnTo(req.query.returnTo));
      res.cookie(LOGIN_COOKIE, box.seal(JSON.stringify(transaction)), { ...cookieOptions, maxAge: 10 * 60_000 });
      res.redirect(303, url);
    } catch (error) {
      if (error instanceof SignInError)
        return page(
          res,
          502,
          signInPage(ctx(req, res), { issuer: oidc.issuer, csrf: '', returnTo: '/catalog', error: error.message }),
        );
      next(error);
    }
  });

  app.get('/auth/callback', async (req, res, next) => {
    if (!oidc) return void res.redirect(303, '/signin');
    const fail = (message: string) => {
      res.clearCookie(LOGIN_COOKIE, cookieOptions);
      page(
        res,
        400,
        signInPage(ctx(req, res), {
          issuer: oidc.issuer,
          csrf: '',
          returnTo: '/catalog',
          error: `Sign-in failed: ${message}`,
        }),
      );
    };
    const sealed = readCookie(req, LOGIN_COOKIE);
    let transaction: LoginTransaction;
    try {
      if (!sealed) throw new Error('missing');
      transaction = JSON.parse(box.open(sealed)) as LoginTransaction;
    } catch {
      return fail('no sign-in was started from this browser, or it expired; start again');
    }
    try {
      const { identity, claims, idToken } = await oidc.finish(new URL(req.originalUrl, publicUrl), transaction);
      let grants: OrganizationGrant[] | null = null;
      if (claims.annex_orgs !== undefined) grants = parseOrganizationClaim(claims.annex_orgs);
      await startSession(res, identity, grants, safeReturnTo(transaction.returnTo), idToken);
    } catch (error) {
      if (error instanceof SignInError) return fail(error.message);
      if (error instanceof Error && error.message.startsWith('the annex_orgs claim')) return fail(error.message);
      next(error);
    }
  });

  app.post('/auth/development', async (req, res, next) => {
    if (oidc)
      return page(
        res,
        404,
        errorPage(
          ctx(req, res),
          'Not found',
          'The development sign-in is off: this installation has an identity provider.',
        ),
      );
    const org = config.defaultOrganization;
    try {
      const exists =
        org && (await db.selectFrom('organizations').select('id').where('slug', '=', org).executeTakeFirst());
      if (!exists) {
        return page(
          res,
          409,
          errorPage(
            ctx(req, res),
            'Development sign-in unavailable',
            `The development organization "${org ?? ''}" does not exist (CONSOLE_DEFAULT_ORG).`,
          ),
        );
      }
      await startSession(
        res,
        { issuer: DEVELOPMENT_ISSUER, subject: 'developer', email: 'developer@localhost', name: 'Development user' },
        [{ slug: org, role: 'admin' }],
        safeReturnTo((req.body as Record<string, unknown>).returnTo),
      );
    } catch (error) {
      next(error);
    }
  });

  app.post('/auth/logout', async (_req, res, next) => {
    try {
      const session = res.locals.session as Session | null;
      const idTokenSealed = session ? await endSession(db, session.idHash) : null;
      res.clearCookie(SESSION_COOKIE, cookieOptions);
      // Signed in at an identity provider: signed out there too (RP-initiated logout), which
      // sends the browser back to the sign-in page.
      let idToken: string | null = null;
      try {
        idToken = idTokenSealed ? box.open(idTokenSealed) : null;
      } catch {
        // Sealed with a key no longer configured: the provider is asked without a hint.
      }
      const atProvider =
        oidc && session ? await oidc.signOutUrl({ idToken, postLogoutRedirectUri: `${publicUrl}/signin` }) : null;
      res.redirect(303, atProvider ?? '/signin');
    } catch (error) {
      next(error);
    }
  });

  app.post('/organization', requireSession, async (req, res, next) => {
    try {
      const slug = String((req.body as Record<string, unknown>).organization ?? '');
      const ok = await switchOrganization(db, box, res.locals.session as Session, slug);
      if (!ok)
        return page(res, 400, errorPage(ctx(req, res), 'Unknown organization', `You are not a member of "${slug}".`));
      res.redirect(303, '/apps');
    } catch (error) {
      next(error);
    }
  });

  // ----- catalog -----

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

  app.get('/catalog', requireSession, async (req, res, next) => {
    try {
      const search = typeof req.query.q === 'string' ? req.query.q.trim().slice(0, 200) : '';
      const category = CATEGORIES.find((c) => c === req.query.category) ?? '';
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
  const schemasOf = (service: ServiceDetail) =>
    new Map(service.plans.map((p) => [p.slug, parametersSchemaOf(p.schemas)]));

  app.get('/services/:slug', requireSession, async (req, res, next) => {
    try {
      const { service, apps } = await loadService(res, String(req.params.slug));
      page(res, 200, servicePage(ctx(req, res), { service, apps, schemas: schemasOf(service) }));
    } catch (error) {
      next(error);
    }
  });

  const attachInput = (query: Record<string, unknown>) => ({
    app: typeof query.app === 'string' ? query.app : '',
    plan: typeof query.plan === 'string' ? query.plan : '',
    as: typeof query.as === 'string' ? query.as.trim() : '',
  });

  app.get('/services/:slug/preflight', requireSession, async (req, res, next) => {
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

  app.post('/services/:slug/attach', requireSession, async (req, res, next) => {
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
        return page(res, error.status, errorPage(ctx(req, res), 'Attach refused', error.message));
      }
      res.redirect(303, `/apps/${encodeURIComponent(input.app)}?created=${encodeURIComponent(created.addon.name)}`);
    } catch (error) {
      next(error);
    }
  });

  // ----- apps -----

  const listApps = async (res: Response) => (await ask(res, AppsListQuery)).data.apps;

  app.get('/apps', requireSession, async (req, res, next) => {
    try {
      page(res, 200, appsPage(ctx(req, res), { apps: await listApps(res) }));
    } catch (error) {
      next(error);
    }
  });

  app.post('/apps', requireSession, async (req, res, next) => {
    try {
      const name = formField(req.body as Record<string, unknown>, 'name').trim();
      try {
        await mutate(res, CreateAppMutation, 'createApp', { name });
      } catch (error) {
        if (!(error instanceof Refusal)) throw error;
        // The apps page again, with the reason and the name to fix rather than retype.
        const apps = await listApps(res);
        return page(res, error.status, appsPage(ctx(req, res), { apps, error: error.message, name }));
      }
      res.redirect(303, `/apps/${encodeURIComponent(name)}`);
    } catch (error) {
      next(error);
    }
  });

  /** An app as its page shows it; values only with `values` (the session's token has `config:read` only for admins). */
  const loadApp = async (res: Response, name: string, values: boolean): Promise<AppDetail> => {
    const { data, errors } = await ask(res, AppPageQuery, { name, values });
    if (!data.app) {
      const org = (res.locals.session as Session).organization?.slug;
      throw missing(errors, 'app', `There is no app "${name}" in ${org}.`);
    }
    return { ...data.app, configVars: data.app.configVars.map((v) => ({ ...v, value: v.value ?? null })) };
  };
  const showApp = async (
    req: Request,
    res: Response,
    status: number,
    name: string,
    options: Omit<AppPageOptions, 'admin'>,
  ) => {
    const admin = isAdmin(res);
    const reveal = admin && options.reveal;
    const app = await loadApp(res, name, reveal);
    page(res, status, appPage(ctx(req, res), app, { ...options, admin, reveal }));
  };

  app.get('/apps/:app', requireSession, async (req, res, next) => {
    try {
      const done = String(req.query.done ?? '');
      await showApp(req, res, 200, String(req.params.app), {
        reveal: req.query.reveal === '1',
        ...(Object.hasOwn(APP_NOTICES, done) ? { notice: done as AppNotice } : {}),
      });
    } catch (error) {
      next(error);
    }
  });

  // ----- changing an app: attachments, add-ons, config vars, releases -----

  /**
   * A form of the app page. `act` changes something and names what it did (a notice); then
   * back to the app page. A refusal shows the app page again with the message, the
   * refusal's status and what `kept` keeps of the form; without an app to show, an error page.
   */
  const appForm =
    (
      appOf: (req: Request) => string,
      act: (req: Request, res: Response, body: Record<string, unknown>) => Promise<AppNotice>,
      kept?: (body: Record<string, unknown>) => AppPageOptions['configForm'],
    ) =>
    async (req: Request, res: Response, next: NextFunction) => {
      const body = req.body as Record<string, unknown>;
      const appName = appOf(req);
      try {
        const notice = await act(req, res, body);
        res.redirect(303, appName ? `/apps/${encodeURIComponent(appName)}?done=${notice}` : '/apps');
      } catch (error) {
        if (!(error instanceof Refusal)) return next(error);
        const refusalAlone = () => page(res, error.status, errorPage(ctx(req, res), 'Refused', error.message));
        if (!appName) return refusalAlone();
        try {
          const configForm = kept?.(body);
          await showApp(req, res, error.status, appName, {
            reveal: false,
            error: error.message,
            ...(configForm ? { configForm } : {}),
          });
        } catch (failure) {
          // The app cannot be shown (gone, or the catalog failed): the refusal alone says what happened.
          if (!(failure instanceof UpstreamError) || failure.status === 401) return next(failure);
          res.locals.partialErrors = [];
          refusalAlone();
        }
      }
    };
  const appParam = (req: Request) => String(req.params.app);
  /** The add-on forms name the app page they were on, to come back to. */
  const appField = (req: Request) => formField(req.body as Record<string, unknown>, 'app');

  app.post(
    '/apps/:app/attachments/:name/detach',
    requireSession,
    requireAdmin('Detaching an add-on'),
    appForm(appParam, async (req, res) => {
      await mutate(res, DetachAddonMutation, 'detachAddon', {
        app: String(req.params.app),
        name: String(req.params.name),
      });
      return 'detached';
    }),
  );

  app.post(
    '/addons/:addon/plan',
    requireSession,
    requireAdmin("Changing an add-on's plan"),
    appForm(appField, async (req, res, body) => {
      const plan = formField(body, 'plan');
      if (!plan) throw new Refusal('Choose the plan to change to.', 400);
      await mutate(res, ChangeAddonPlanMutation, 'changeAddonPlan', { addon: String(req.params.addon), plan });
      return 'plan';
    }),
  );

  app.post(
    '/addons/:addon/rotate',
    requireSession,
    requireAdmin("Rotating an add-on's credentials"),
    appForm(appField, async (req, res) => {
      await mutate(res, RotateAddonCredentialsMutation, 'rotateAddonCredentials', { addon: String(req.params.addon) });
      return 'rotated';
    }),
  );

  app.post(
    '/addons/:addon/destroy',
    requireSession,
    requireAdmin('Destroying an add-on'),
    appForm(appField, async (req, res, body) => {
      // As Heroku does: the add-on's name, typed, so a destroy is never one stray click.
      const addon = String(req.params.addon);
      const typed = formField(body, 'confirm').trim();
      if (typed !== addon) {
        throw new Refusal(
          `To destroy ${addon}, type its name in the confirmation box${typed ? ` ("${typed}" does not match)` : ''}; nothing was destroyed.`,
          400,
        );
      }
      await mutate(res, DestroyAddonMutation, 'destroyAddon', { addon });
      return 'destroyed';
    }),
  );

  // A refused var comes back in the form, to fix rather than retype (an unset has nothing to keep).
  const keepVarForm = (body: Record<string, unknown>) =>
    body.unset === '1' ? undefined : { name: formField(body, 'name'), value: formField(body, 'value') };

  app.post(
    '/apps/:app/config',
    requireSession,
    requireAdmin('Changing config vars'),
    appForm(
      appParam,
      async (req, res, body) => {
        // The catalog (the broker) checks the name and says what is wrong with it.
        const name = formField(body, 'name').trim();
        if (!name) throw new Refusal("Give the config var's name.", 400);
        const unset = body.unset === '1';
        if (!unset && typeof body.value !== 'string')
          throw new Refusal(`Give a value for ${name} (it may be empty).`, 400);
        const result = await mutate(res, SetConfigVarsMutation, 'setConfigVars', {
          app: String(req.params.app),
          vars: { [name]: unset ? null : body.value },
        });
        return result.unchanged ? 'unchanged' : 'config';
      },
      keepVarForm,
    ),
  );

  app.post(
    '/apps/:app/rollback',
    requireSession,
    requireAdmin('Rolling back config vars'),
    appForm(appParam, async (req, res, body) => {
      const text = formField(body, 'version');
      const version = /^[1-9]\d{0,8}$/.test(text) ? Number(text) : null;
      if (version === null) throw new Refusal('Choose a release to roll back to (a version such as 3).', 400);
      await mutate(res, RollbackConfigMutation, 'rollbackConfig', { app: String(req.params.app), version });
      return 'rollback';
    }),
  );

  // Live progress: the catalog's addonEvents subscription, relayed as server-sent events
  // (a browser's EventSource cannot send the bearer token itself).
  app.get('/apps/:app/events', requireSession, async (req, res) => {
    // A reconnecting EventSource says where it stopped; a fresh one starts where its page did.
    const lastId = req.get('last-event-id') || (typeof req.query.after === 'string' ? req.query.after : '');
    if (lastId && !/^\d{1,18}$/.test(lastId)) {
      res.status(400).type('text/plain').send('after: must be an event id (digits)');
      return;
    }
    const abort = new AbortController();
    req.on('close', () => abort.abort());
    res.status(200).set({ 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.flushHeaders();
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
    try {
      for await (const event of catalog.events(
        tokenOf(res),
        String(req.params.app),
        lastId || undefined,
        abort.signal,
      )) {
        res.write(`id: ${event.id}\nevent: addon\ndata: ${JSON.stringify(event)}\n\n`);
      }
    } catch (error) {
      if (!abort.signal.aborted) {
        const message = error instanceof UpstreamError ? error.message : 'the event stream failed';
        res.write(`event: failure\ndata: ${message.replace(/\n/g, ' ')}\n\n`);
      }
    } finally {
      clearInterval(heartbeat);
      res.end();
    }
  });

  // ----- SSO into the provider's dashboard -----

  // The session's token acts for its signed-in person: the broker names them to the provider.
  app.post('/addons/:addon/sso', requireSession, async (req, res, next) => {
    try {
      const appName = formField(req.body as Record<string, unknown>, 'app');
      let url: string;
      try {
        ({ url } = await mutate(res, OpenAddonDashboardMutation, 'openAddonDashboard', {
          addon: String(req.params.addon),
          ...(appName ? { app: appName } : {}),
        }));
      } catch (error) {
        if (!(error instanceof Refusal)) throw error;
        throw new UpstreamError(`Opening the dashboard failed: ${error.message}`, error.status);
      }
      // The browser is sent there: a web page only, never another scheme.
      if (!/^https?:\/\//.test(url))
        throw new UpstreamError('Opening the dashboard failed: its URL is not http(s)', 502);
      res.redirect(303, url);
    } catch (error) {
      next(error);
    }
  });

  // ----- billing -----

  // The add-ons come with the apps; the account, the invoices and the apps' usage come in one
  // more document (see billing.ts), whatever the number of add-ons. As before, the usage of
  // the first 50 apps only.
  const MAX_USAGE_APPS = 50;

  app.get('/billing', requireSession, async (req, res, next) => {
    try {
      const { data } = await ask(res, BillingAddonsQuery);
      const addons = data.apps.flatMap((a) =>
        a.addons.map((o) => ({
          app: a.name,
          name: o.name,
          plan: `${o.serviceSlug}:${o.planSlug}`,
          free: o.plan?.free ?? false,
          cents: o.plan?.price.monthly ?? 0,
          currency: o.plan?.price.currency ?? 'usd',
        })),
      );
      const apps = data.apps.slice(0, MAX_USAGE_APPS).map((a) => a.name);
      // Billing's GraphQL fields come with the billing service; a catalog without them
      // answers "Cannot query field" (null here), and the page says billing is not available.
      // Any other failure leaves its part of the page out and says why.
      const answers = await Promise.all(
        billingDocuments(apps).map(async ({ query, variables }) => {
          try {
            const result = await catalog.query<Record<string, unknown>>(tokenOf(res), query, variables);
            partialErrorsOf(res).push(...result.errors);
            return result.data;
          } catch (error) {
            if (!(error instanceof UpstreamError) || error.status === 401) throw error;
            if (/Cannot query field/.test(error.message)) return null;
            partialErrorsOf(res).push({ message: error.message, path: [] });
            return {};
          }
        }),
      );
      const billing = answers.some((a) => a === null)
        ? null
        : assembleBilling(apps, answers as Record<string, unknown>[]);
      page(res, 200, billingPage(ctx(req, res), { billing, addons }));
    } catch (error) {
      next(error);
    }
  });

  // ----- errors -----

  app.use((req, res) => page(res, 404, errorPage(ctx(req, res), 'Not found', `Nothing at ${req.path}.`)));
  app.use(async (error: unknown, req: Request, res: Response, _next: NextFunction) => {
    // The error page replaces the page: the partial errors of its answers no longer apply.
    res.locals.partialErrors = [];
    // A body the form parser refused (too large, too many fields, bad charset): the caller's mistake.
    const refused = error as { status?: unknown; expose?: unknown; message?: string };
    if (typeof refused.status === 'number' && refused.status < 500 && refused.expose === true) {
      return page(res, refused.status, errorPage(ctx(req, res), 'Bad request', String(refused.message)));
    }
    if (error instanceof UpstreamError) {
      if (error.status === 401) {
        // The session's token no longer works (revoked or expired): end the session.
        const session = res.locals.session as Session | null;
        if (session) await endSession(db, session.idHash).catch(() => undefined);
        res.clearCookie(SESSION_COOKIE, cookieOptions);
        return void res.redirect(303, '/signin');
      }
      return page(
        res,
        error.status,
        errorPage(ctx(req, res), error.status === 404 ? 'Not found' : 'Something went wrong', error.message),
      );
    }
    const requestId = randomBytes(6).toString('hex');
    logger.error({ err: error, requestId }, 'console request failed');
    page(
      res,
      500,
      errorPage(ctx(req, res), 'Unexpected error', `Something went wrong on our side (request ${requestId}).`),
    );
  });

  // Expired sessions are ended when next seen; the sweep removes those never seen again.
  const jobs = createJobRunner<ConsoleJobs>(database, {
    logger,
    concurrency: 1,
    kinds: {
      'console.session-sweep': async () => {
        const count = await sweepExpiredSessions(db);
        if (count > 0) logger.info({ count }, 'expired sessions removed');
      },
    },
    schedules: [{ kind: 'console.session-sweep', recurrence: every(SESSION_SWEEP_MS) }],
  });
  let starting: Promise<void> | undefined;
  return {
    app,
    publicUrl,
    start() {
      starting ??= jobs.start().catch((error: unknown) => {
        logger.error({ err: error }, 'the console job runner did not start');
      });
    },
    async close() {
      await starting;
      await jobs.stop();
    },
  };
}

/** Why a form was refused: a message naming what is wrong, and the status of the page that says it. */
class Refusal extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'Refusal';
  }
}

/** The status of each refusal in the apps mutations' result unions; anything else is 502. */
const REFUSAL_STATUS: Record<string, number> = {
  InvalidInput: 400,
  PlanNotOffered: 400,
  NotAuthorized: 403,
  Forbidden: 403,
  NotFound: 404,
  Conflict: 409,
  ConfigVarCollision: 409,
  NameTaken: 409,
  // The provider has no dashboard to open.
  DashboardNotOffered: 422,
  // What is wrong is the organization's billing account, not the form.
  PaymentRequired: 409,
  ProviderFailed: 502,
  BrokerUnavailable: 502,
};

/** A form field as one string; a field sent twice (or not at all) reads as empty. */
function formField(body: Record<string, unknown>, name: string): string {
  const value = body[name];
  return typeof value === 'string' ? value : '';
}

function readCookie(req: Request, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const index = part.indexOf('=');
    if (index > 0 && part.slice(0, index).trim() === name) {
      try {
        return decodeURIComponent(part.slice(index + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}
