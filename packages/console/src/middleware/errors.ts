import { randomBytes } from 'node:crypto';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { UpstreamError } from '../catalog-client.js';
import type { ConsoleContext } from '../context.js';
import { endSession } from '../sessions.js';
import { errorPage } from '../views/pages.js';
import { sessionOf } from './session.js';

/** What no route answered: a `404` page. */
export function notFoundPage(c: ConsoleContext): RequestHandler {
  return (req, res) => c.page(res, 404, errorPage(c.pageContext(req, res), 'Not found', `Nothing at ${req.path}.`));
}

/**
 * A failed request's page: a refused body is the caller's mistake, the catalog's failure says
 * what failed, a token the catalog no longer accepts ends the session, and anything else is a
 * `500` naming a request id (logged with the error), never the error itself.
 */
export function errorPages(c: ConsoleContext): ErrorRequestHandler {
  const { page, pageContext: ctx, cookies } = c;
  return async (error: unknown, req, res, _next) => {
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
        const session = sessionOf(res);
        if (session) await endSession(c.db, session.idHash).catch(() => undefined);
        res.clearCookie(cookies.session, cookies.options);
        return void res.redirect(303, '/signin');
      }
      return page(
        res,
        error.status,
        errorPage(ctx(req, res), error.status === 404 ? 'Not found' : 'Something went wrong', error.message),
      );
    }
    const requestId = randomBytes(6).toString('hex');
    c.logger.error({ err: error, requestId }, 'console request failed');
    page(
      res,
      500,
      errorPage(ctx(req, res), 'Unexpected error', `Something went wrong on our side (request ${requestId}).`),
    );
  };
}
