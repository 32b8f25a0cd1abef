import express from 'express';
import { assembleBilling, billingDocuments } from '../billing.js';
import { UpstreamError } from '../catalog-client.js';
import type { ConsoleContext } from '../context.js';
import { BillingAddonsQuery, StartCardCheckoutMutation } from '../documents.js';
import { partialErrorsOf, Refusal } from '../graphql.js';
import { isAdmin, requireAdmin, requireSession, tokenOf } from '../middleware/session.js';
import { html } from '../views/html.js';
import { billingPage, errorPage } from '../views/pages.js';

// The add-ons come with the apps; the account, the invoices and the apps' usage come in one
// more document (see billing.ts), whatever the number of add-ons. As before, the usage of
// the first 50 apps only.
const MAX_USAGE_APPS = 50;

/** The organization's account, usage, invoices and plan prices; adding a card. */
export function billingRoutes(c: ConsoleContext): express.Router {
  const router = express.Router();

  router.get('/billing', requireSession(c), async (req, res, next) => {
    try {
      const { data } = await c.ask(res, BillingAddonsQuery);
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
            const result = await c.catalog.query<Record<string, unknown>>(tokenOf(res), query, variables);
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
      c.page(
        res,
        200,
        billingPage(c.pageContext(req, res), {
          billing,
          addons,
          canAddCard: isAdmin(res),
          // Stripe Checkout sends the user back with the session's id (see POST /billing/card).
          checkoutReturned: typeof req.query.checkout === 'string' && /^cs_\w+$/.test(req.query.checkout),
        }),
      );
    } catch (error) {
      next(error);
    }
  });

  // Stripe Checkout in setup mode: the broker creates the session for the organization's
  // customer, the browser goes to Stripe's page, comes back to /billing, and Stripe's
  // webhook makes the card the default.
  router.post('/billing/card', requireSession(c), requireAdmin(c, 'Adding a card'), async (req, res, next) => {
    try {
      const checkout = await c.mutate(res, StartCardCheckoutMutation, 'startCardCheckout', {
        returnUrl: `${c.publicUrl}/billing`,
      });
      res.redirect(303, checkout.url);
    } catch (error) {
      if (!(error instanceof Refusal)) return next(error);
      c.page(
        res,
        error.status,
        errorPage(
          c.pageContext(req, res),
          'No card added',
          error.message,
          html`<p><a href="/billing">Back to billing</a></p>`,
        ),
      );
    }
  });

  return router;
}
