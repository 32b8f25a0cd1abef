import { randomBytes } from 'node:crypto';
import express, { type Response } from 'express';
import type { ConsoleContext } from '../context.js';
import { readCookie, requireSession, sessionOf, signedInSession } from '../middleware/session.js';
import { type LoginTransaction, SignInError } from '../oidc.js';
import {
  applyOrganizationGrants,
  applyProviderGrants,
  createSession,
  endSession,
  type Identity,
  type OrganizationGrant,
  parseOrganizationClaim,
  parseProviderClaim,
  switchOrganization,
  switchProvider,
  upsertUser,
} from '../sessions.js';
import { errorPage, signInPage } from '../views/pages.js';

/** The identity of the development sign-in (only without an OIDC issuer). */
export const DEVELOPMENT_ISSUER = 'annex-development';

/** A path on this console to go back to after signing in; anything else is the catalog. */
const safeReturnTo = (value: unknown) =>
  typeof value === 'string' && value.startsWith('/') && !value.startsWith('//') && !value.startsWith('/\\')
    ? value
    : '/catalog';

/** Sign-in (OIDC or the development sign-in), sign-out, and the organization the session acts for. */
export function authRoutes(c: ConsoleContext): express.Router {
  const { db, box, config, logger, oidc, cookies, page, pageContext: ctx } = c;
  const router = express.Router();

  // A provider member of no organization has only the Provider section.
  router.get('/', (_req, res) => {
    const session = sessionOf(res);
    res.redirect(303, !session ? '/signin' : !session.organization && session.provider ? '/provider' : '/catalog');
  });

  router.get('/signin', (req, res) => {
    if (sessionOf(res)) return void res.redirect(303, safeReturnTo(req.query.returnTo));
    const csrf = randomBytes(24).toString('base64url');
    res.cookie(cookies.anonymousCsrf, csrf, { ...cookies.options, maxAge: 3600_000 });
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
    providerGrants: OrganizationGrant[] | null,
    returnTo: string,
    idToken?: string,
  ) => {
    const user = await upsertUser(db, identity);
    const { unknown } = await applyOrganizationGrants(db, user.id, grants, config.defaultOrganization);
    if (unknown.length > 0) logger.warn({ user: user.id, unknown }, 'sign-in names organizations that do not exist');
    const providers = await applyProviderGrants(db, user.id, providerGrants);
    if (providers.unknown.length > 0)
      logger.warn({ user: user.id, unknown: providers.unknown }, 'sign-in names providers that do not exist');
    const { sessionId } = await createSession(db, box, {
      userId: user.id,
      who: identity.email || identity.subject,
      ttlSeconds: config.sessionTtlSeconds,
      idToken,
    });
    res.cookie(cookies.session, sessionId, { ...cookies.options, maxAge: config.sessionTtlSeconds * 1000 });
    res.clearCookie(cookies.login, cookies.options);
    res.clearCookie(cookies.anonymousCsrf, cookies.options);
    res.redirect(303, returnTo);
  };

  router.get('/auth/login', async (req, res, next) => {
    if (!oidc) return void res.redirect(303, '/signin');
    try {
      const { url, transaction } = await oidc.begin(safeReturnTo(req.query.returnTo));
      res.cookie(cookies.login, box.seal(JSON.stringify(transaction)), { ...cookies.options, maxAge: 10 * 60_000 });
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

  router.get('/auth/callback', async (req, res, next) => {
    if (!oidc) return void res.redirect(303, '/signin');
    const fail = (message: string) => {
      res.clearCookie(cookies.login, cookies.options);
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
    const sealed = readCookie(req, cookies.login);
    let transaction: LoginTransaction;
    try {
      if (!sealed) throw new Error('missing');
      transaction = JSON.parse(box.open(sealed)) as LoginTransaction;
    } catch {
      return fail('no sign-in was started from this browser, or it expired; start again');
    }
    try {
      const { identity, claims, idToken } = await oidc.finish(new URL(req.originalUrl, c.publicUrl), transaction);
      let grants: OrganizationGrant[] | null = null;
      let providerGrants: OrganizationGrant[] | null = null;
      if (claims.annex_orgs !== undefined) grants = parseOrganizationClaim(claims.annex_orgs);
      if (claims.annex_providers !== undefined) providerGrants = parseProviderClaim(claims.annex_providers);
      await startSession(res, identity, grants, providerGrants, safeReturnTo(transaction.returnTo), idToken);
    } catch (error) {
      if (error instanceof SignInError) return fail(error.message);
      if (error instanceof Error && /^the annex_(orgs|providers) claim/.test(error.message)) return fail(error.message);
      next(error);
    }
  });

  router.post('/auth/development', async (req, res, next) => {
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
        // Only when configured: without it the development user keeps what an admin gave them.
        config.developmentProviders ? config.developmentProviders.map((slug) => ({ slug, role: 'admin' })) : null,
        safeReturnTo((req.body as Record<string, unknown>).returnTo),
      );
    } catch (error) {
      next(error);
    }
  });

  router.post('/auth/logout', async (_req, res, next) => {
    try {
      const session = sessionOf(res);
      const idTokenSealed = session ? await endSession(db, session.idHash) : null;
      res.clearCookie(cookies.session, cookies.options);
      // Signed in at an identity provider: signed out there too (RP-initiated logout), which
      // sends the browser back to the sign-in page.
      let idToken: string | null = null;
      try {
        idToken = idTokenSealed ? box.open(idTokenSealed) : null;
      } catch {
        // Sealed with a key no longer configured: the provider is asked without a hint.
      }
      const atProvider =
        oidc && session ? await oidc.signOutUrl({ idToken, postLogoutRedirectUri: `${c.publicUrl}/signin` }) : null;
      res.redirect(303, atProvider ?? '/signin');
    } catch (error) {
      next(error);
    }
  });

  router.post('/organization', requireSession(c), async (req, res, next) => {
    try {
      const slug = String((req.body as Record<string, unknown>).organization ?? '');
      const ok = await switchOrganization(db, box, signedInSession(res), slug);
      if (!ok)
        return page(res, 400, errorPage(ctx(req, res), 'Unknown organization', `You are not a member of "${slug}".`));
      res.redirect(303, '/apps');
    } catch (error) {
      next(error);
    }
  });

  router.post('/provider', requireSession(c, { organization: false }), async (req, res, next) => {
    try {
      const slug = String((req.body as Record<string, unknown>).provider ?? '');
      const ok = await switchProvider(db, box, signedInSession(res), slug);
      if (!ok)
        return page(res, 400, errorPage(ctx(req, res), 'Unknown provider', `You are not a member of "${slug}".`));
      res.redirect(303, '/provider');
    } catch (error) {
      next(error);
    }
  });

  return router;
}
