import {
  billingJobRequest,
  cardCheckoutRequest,
  paymentMethodRequest,
  providerBillingRequest,
  spendCapRequest,
  type UnscopedRoute,
} from '@annex/contracts/v1';
import express, { type Request, type Response } from 'express';
import { findApp } from '../../apps/index.js';
import { type ApiCaller, ApiFailure, invalidInput } from '../../shared/domain/api-failure.js';
import type { BrokerContext } from '../../shared/domain/context.js';
import {
  apiErrorHandler,
  apiInternalErrorHandler,
  authenticateApiCaller,
  callerOf,
  parseBody,
  scopedRoutes,
} from '../../shared/http/api.js';
import { cleanRequestTarget, jsonBody } from '../../shared/http/request-input.js';
import {
  accountView,
  createCardCheckout,
  createSetupIntent,
  resolveOrganization,
  setDefaultPaymentMethod,
  setSpendCap,
} from '../domain/accounts.js';
import { getInvoice, listInvoices } from '../domain/invoicing.js';
import { monthCharges } from '../domain/ledger.js';
import { isPeriod, periodOf, roundCents } from '../domain/money.js';
import { setProviderBilling } from '../domain/payouts.js';
import { handleStripeWebhook } from '../domain/stripe-events.js';
import { BILLING_JOBS, type BillingJob, runBillingJob } from '../domain/worker.js';

// The billing REST API (docs/billing.md), mounted at `/v1/billing` before the apps API.

async function organizationOf(ctx: BrokerContext, caller: ApiCaller, req: Request): Promise<string> {
  const slug = typeof req.query.organization === 'string' ? req.query.organization : undefined;
  return resolveOrganization(ctx, caller, slug);
}

function requireAdmin(caller: ApiCaller): void {
  if (caller.principal.kind !== 'admin') throw new ApiFailure('forbidden', 'this needs an admin token');
}

export function billingRouter(ctx: BrokerContext): express.Router {
  const router = express.Router();
  // Stripe signs the exact bytes: this route reads the raw body and needs no API token. Its
  // path is its key in the contracts' `unscopedRoutes` (what the OpenAPI document lists).
  const stripeWebhook: UnscopedRoute = 'POST /v1/billing/stripe/webhook';
  router.post(
    stripeWebhook.slice('POST /v1/billing'.length),
    express.raw({ type: () => true, limit: '1mb' }),
    async (req, res) => {
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      res.json(await handleStripeWebhook(ctx, body, req.header('stripe-signature')));
    },
  );
  router.use(cleanRequestTarget, jsonBody(64 * 1024));
  router.use(authenticateApiCaller(ctx));
  const route = scopedRoutes(router, '/v1/billing');

  route('GET /v1/billing/account', async (req, res) => {
    res.json(await accountView(ctx, await organizationOf(ctx, callerOf(res), req)));
  });
  route('POST /v1/billing/setup-intent', async (req, res) => {
    res.status(201).json(await createSetupIntent(ctx, await organizationOf(ctx, callerOf(res), req)));
  });
  route('POST /v1/billing/card-checkout', async (req, res) => {
    const body = parseBody(cardCheckoutRequest, req.body);
    const organizationId = await organizationOf(ctx, callerOf(res), req);
    res.status(201).json(await createCardCheckout(ctx, organizationId, body.returnUrl));
  });
  route('PUT /v1/billing/payment-method', async (req, res) => {
    const body = parseBody(paymentMethodRequest, req.body);
    const organizationId = await organizationOf(ctx, callerOf(res), req);
    await setDefaultPaymentMethod(ctx, organizationId, body.paymentMethod);
    res.json(await accountView(ctx, organizationId));
  });
  route('PUT /v1/billing/spend-caps', async (req, res) => {
    const body = parseBody(spendCapRequest, req.body);
    const caller = callerOf(res);
    const organizationId = await organizationOf(ctx, caller, req);
    let appId: string | null = null;
    if (body.app) {
      const app = await findApp(ctx.db, caller, body.app);
      if (app.organization_id !== organizationId) throw new ApiFailure('not_found', `app "${body.app}" not found`);
      appId = app.id;
    }
    await setSpendCap(ctx.db, organizationId, appId, body.limitCents);
    res.json(await accountView(ctx, organizationId));
  });

  route('GET /v1/billing/invoices', async (req, res) => {
    const organizationId = await organizationOf(ctx, callerOf(res), req);
    res.json(await listInvoices(ctx, organizationId));
  });
  route('GET /v1/billing/invoices/:id', async (req, res) => {
    res.json(await getInvoice(ctx, callerOf(res), String(req.params.id)));
  });

  route('GET /v1/billing/usage', async (req, res) => {
    const caller = callerOf(res);
    const appRef = typeof req.query.app === 'string' ? req.query.app : '';
    if (!appRef) throw invalidInput('app', 'required (?app=name)');
    const app = await findApp(ctx.db, caller, appRef);
    const now = new Date();
    const period = typeof req.query.period === 'string' && req.query.period !== '' ? req.query.period : periodOf(now);
    if (!isPeriod(period)) throw invalidInput('period', `expected YYYY-MM, got "${period}"`);
    const charges = await monthCharges(ctx.db, { organizationId: app.organization_id, appId: app.id }, period, now);
    const addons = charges.addons.map((c) => ({
      addon: c.addon,
      plan: c.plans.join(' → '),
      seconds: c.seconds,
      cents: roundCents(c.cents),
      capped: c.capped,
    }));
    const metered = charges.metered.map((m) => ({
      addon: m.addon,
      unit: m.unit,
      quantity: m.quantity,
      cents: roundCents(m.cents),
    }));
    const totalCents = [...addons, ...metered].reduce((sum, l) => sum + l.cents, 0);
    res.json({ app: app.name, period, addons, metered, totalCents });
  });

  route('PUT /v1/billing/providers/:provider', async (req, res) => {
    requireAdmin(callerOf(res));
    const body = parseBody(providerBillingRequest, req.body);
    res.json(await setProviderBilling(ctx, String(req.params.provider), body));
  });
  route('POST /v1/billing/jobs/:job', async (req, res) => {
    requireAdmin(callerOf(res));
    const job = String(req.params.job);
    if (!BILLING_JOBS.includes(job as BillingJob)) {
      throw invalidInput('job', `expected one of ${BILLING_JOBS.join(', ')}`);
    }
    const body = parseBody(billingJobRequest, req.body);
    if (body.period !== undefined && !isPeriod(body.period)) {
      throw invalidInput('period', `expected YYYY-MM, got "${body.period}"`);
    }
    res.json(await runBillingJob(ctx, job as BillingJob, { period: body.period }));
  });

  router.use((_req: Request, _res: Response) => {
    throw new ApiFailure('not_found', 'no such endpoint of the billing API (see docs/billing.md)');
  });
  router.use(apiErrorHandler);
  router.use(apiInternalErrorHandler);
  return router;
}
