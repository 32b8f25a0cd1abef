import express from 'express';
import { UpstreamError } from '../catalog-client.js';
import type { ConsoleContext } from '../context.js';
import { OpenAddonDashboardMutation } from '../documents.js';
import { Refusal } from '../graphql.js';
import { requireSession } from '../middleware/session.js';
import { formField } from './form-field.js';

/** Single sign-on into an add-on's dashboard at its provider. */
export function ssoRoutes(c: ConsoleContext): express.Router {
  const router = express.Router();

  // The session's token acts for its signed-in person: the broker names them to the provider.
  router.post('/addons/:addon/sso', requireSession(c), async (req, res, next) => {
    try {
      const appName = formField(req.body as Record<string, unknown>, 'app');
      let url: string;
      try {
        ({ url } = await c.mutate(res, OpenAddonDashboardMutation, 'openAddonDashboard', {
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

  return router;
}
