import type { RequestHandler } from 'express';
import type { ConsoleContext } from '../context.js';
import { csrfMatches } from '../sessions.js';
import { errorPage } from '../views/pages.js';
import { readCookie, sessionOf } from './session.js';

/**
 * Every state-changing request carries the session's synchronizer token (or, signed out, the
 * double-submit cookie's) in `_csrf` or `x-csrf-token`, and a cross-site Origin is refused
 * outright: a `403` page, and no route runs. After the session is loaded and the body parsed.
 */
export function csrfCheck(c: ConsoleContext): RequestHandler {
  const publicOrigin = new URL(c.publicUrl).origin;
  return (req, res, next) => {
    if (req.method === 'GET' || req.method === 'HEAD') return next();
    const origin = req.get('origin');
    const submitted = (req.body as Record<string, unknown> | undefined)?._csrf ?? req.get('x-csrf-token');
    const session = sessionOf(res);
    const expected = session ? session.csrfToken : readCookie(req, c.cookies.anonymousCsrf);
    if ((origin && origin !== publicOrigin) || !expected || !csrfMatches(expected, submitted)) {
      c.page(
        res,
        403,
        errorPage(
          c.pageContext(req, res),
          'Request refused',
          'This form has expired or did not come from this console (CSRF check failed). Reload the page and try again.',
        ),
      );
      return;
    }
    next();
  };
}
