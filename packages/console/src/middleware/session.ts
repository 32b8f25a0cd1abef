import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { ConsoleContext } from '../context.js';
import { loadSession, type Session } from '../sessions.js';
import { errorPage } from '../views/pages.js';

/** The console's cookies: `__Host-` names when served over https. */
export interface ConsoleCookies {
  /** The session's random id (its row is keyed by the id's hash). */
  session: string;
  /** The sealed OIDC login transaction, between `/auth/login` and `/auth/callback`. */
  login: string;
  /** The signed-out double-submit CSRF token of the sign-in page. */
  anonymousCsrf: string;
  options: { httpOnly: true; sameSite: 'lax'; secure: boolean; path: '/' };
}

export function consoleCookies(secure: boolean): ConsoleCookies {
  const cookieName = (name: string) => (secure ? `__Host-${name}` : name);
  return {
    session: cookieName('annex_session'),
    login: cookieName('annex_login'),
    anonymousCsrf: cookieName('annex_csrf'),
    options: { httpOnly: true, sameSite: 'lax', secure, path: '/' },
  };
}

/** Loads the session from its cookie, in the database; `res.locals.session` is null when signed out. */
export function loadSessionFromCookie(c: ConsoleContext): RequestHandler {
  return async (req, res, next) => {
    try {
      const id = readCookie(req, c.cookies.session);
      res.locals.session = id ? await loadSession(c.db, c.box, id) : null;
      next();
    } catch (error) {
      next(error);
    }
  };
}

/** The request's session; null when signed out. */
export const sessionOf = (res: Response): Session | null => (res.locals.session as Session | null) ?? null;
/** After `requireSession`: the signed-in session. */
export const signedInSession = (res: Response): Session => res.locals.session as Session;
/** After `requireSession`: the org token the catalog is called with. */
export const tokenOf = (res: Response): string => signedInSession(res).apiToken as string;
/** After `requireProviderMember`: the provider token the portal's pages call the catalog with. */
export const providerTokenOf = (res: Response): string => signedInSession(res).providerToken as string;
/** After `requireSession`: whether the user is an admin of the organization they act for. */
export const isAdmin = (res: Response): boolean => signedInSession(res).organization?.role === 'admin';

/**
 * Signed out: `303` to the sign-in page, back here after it; without an organization: `403`
 * (unless `organization: false`, for what a provider member without one may do).
 */
export function requireSession(c: ConsoleContext, options: { organization?: boolean } = {}): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const session = sessionOf(res);
    if (!session) return void res.redirect(303, `/signin?returnTo=${encodeURIComponent(req.originalUrl)}`);
    if (options.organization !== false && (!session.organization || !session.apiToken)) {
      return c.page(
        res,
        403,
        errorPage(
          c.pageContext(req, res),
          'No organization',
          'Your account belongs to no organization on this installation. Ask an administrator to add you.',
        ),
      );
    }
    next();
  };
}

/**
 * After `requireSession`: the forms that change or remove what an app already runs with
 * (its add-ons, credentials, config vars, releases) are for the organization's admins, the
 * same role that reveals values. The org token itself could do them; the console decides.
 */
export function requireAdmin(c: ConsoleContext, what: string): RequestHandler {
  return (req, res, next) => {
    if (isAdmin(res)) return next();
    const org = signedInSession(res).organization?.slug ?? '';
    c.page(
      res,
      403,
      errorPage(c.pageContext(req, res), 'Not allowed', `${what} needs the admin role in ${org}; nothing was changed.`),
    );
  };
}

export function readCookie(req: Request, name: string): string | undefined {
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

/**
 * The provider's portal (docs/provider-portal.md): signed out, `303` to the sign-in page;
 * signed in but a member of no provider, `403`. Needs no organization.
 */
export function requireProviderMember(c: ConsoleContext): RequestHandler[] {
  return [
    requireSession(c, { organization: false }),
    (req, res, next) => {
      const session = signedInSession(res);
      if (session.provider && session.providerToken) return next();
      c.page(
        res,
        403,
        errorPage(
          c.pageContext(req, res),
          'Not a provider member',
          'The Provider section is for people who work for a provider on this marketplace. Ask an administrator to add you.',
        ),
      );
    },
  ];
}
