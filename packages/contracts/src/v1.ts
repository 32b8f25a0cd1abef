import * as z from 'zod';

// The broker's `/v1` apps API (docs/apps.md, "REST API"), written once: the broker decodes
// requests with these schemas and builds its answers to these types; the catalog's broker
// client sends the requests and reads the answers by the same types. Timestamps travel as
// ISO 8601 strings.

const CONTROL_CHARACTER = /\p{Cc}/u;

/** Whether `value` is fit for an id or a name: no control characters (NUL, newlines, escapes…). */
export function isCleanId(value: string): boolean {
  return !CONTROL_CHARACTER.test(value);
}

export const CONTROL_CHARACTER_PROBLEM = 'must not contain control characters';

/** A zod string for an id or a name: non-empty, at most `max` characters, no control characters. */
export function idString(max = 255) {
  return z.string().min(1).max(max).refine(isCleanId, CONTROL_CHARACTER_PROBLEM);
}

// ---- requests ---------------------------------------------------------------------------

const attachFields = {
  /** The attachment's name, which prefixes its config vars (`DATABASE` → `DATABASE_URL`). */
  as: z.string().max(40).optional(),
  /** Take over vars of the same names another attachment of the app owns. */
  replace: z.boolean().optional(),
};
const parameters = z.record(z.string(), z.unknown()).optional();

/** `POST /v1/apps`. */
export const createAppRequest = z.object({ name: z.string().max(64), organization: idString(64).optional() });
/** `POST /v1/apps/:app/addons`. */
export const createAddonRequest = z.object({ plan: idString(200), parameters, ...attachFields });
/** `POST /v1/apps/:app/attachments`. */
export const attachRequest = z.object({ addon: idString(200), ...attachFields });
/** `POST /v1/apps/:app/addons/preflight` (with `plan`) and `…/attachments/preflight` (with `addon`). */
export const preflightRequest = z.object({
  plan: idString(200).optional(),
  addon: idString(200).optional(),
  parameters,
  ...attachFields,
});
/** `PATCH /v1/addons/:addon`. */
export const changePlanRequest = z.object({ plan: idString(200) });
/** `POST /v1/addons/:addon/rotate`. */
export const rotateRequest = z.object({
  graceSeconds: z
    .number()
    .int()
    .min(0)
    .max(30 * 86_400)
    .optional(),
});
/** `POST /v1/addons/:addon/shares`. */
export const shareRequest = z.object({ organization: idString(64) });
/** `POST /v1/addons/:addon/sso`: the user is always the caller, so a `user` is named only to be refused. */
export const ssoRequest = z
  .object({
    app: idString(200).optional(),
    user: z.unknown().optional(),
  })
  .strict();
/** `PATCH /v1/apps/:app/config-vars`: null unsets a var. */
export const setConfigVarsRequest = z.object({
  vars: z.record(z.string(), z.string().max(65_536).nullable()),
  reason: z.string().max(500).optional(),
  secret: z.boolean().optional(),
});
/** Release numbers are PostgreSQL `integer`s: a larger one is refused here, not by a query. */
const releaseNumber = z.number().int().min(1).max(2_147_483_647);
/** `POST /v1/apps/:app/releases/rollback`. */
export const rollbackRequest = z.object({ version: releaseNumber });
/** `POST /v1/apps/:app/config-vars/confirm`. */
export const confirmReleaseRequest = z.object({ release: releaseNumber });
/**
 * `POST /v1/billing/card-checkout`: where Stripe Checkout sends the user back (the console's
 * billing page); the session's id comes back in `?checkout=`.
 */
export const cardCheckoutRequest = z.object({
  returnUrl: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }).max(2000),
});
export type CardCheckoutRequest = z.infer<typeof cardCheckoutRequest>;

/** How long a rotated webhook secret may keep signing beside the new one: 7 days. */
export const MAX_WEBHOOK_SECRET_OVERLAP_SECONDS = 7 * 86_400;
const overlapProblem = `must be a whole number of seconds from 0 to ${MAX_WEBHOOK_SECRET_OVERLAP_SECONDS}`;
/** `PUT /v1/platforms/self/webhook`: where the calling platform's webhooks go. */
export const webhookRequest = z.object({ url: z.string({ error: 'must be an http(s) URL' }) }).strict();
/** `POST /v1/platforms/self/webhook/rotate`: how long the current secret keeps signing beside the new one. */
export const rotateWebhookRequest = z
  .object({
    previousSecretValidForSeconds: z
      .number({ error: overlapProblem })
      .int({ error: overlapProblem })
      .min(0, { error: 'must be at least 0' })
      .max(MAX_WEBHOOK_SECRET_OVERLAP_SECONDS, {
        error: `must be at most ${MAX_WEBHOOK_SECRET_OVERLAP_SECONDS} (7 days)`,
      })
      .default(86_400),
  })
  .strict();
/** `PUT /v1/billing/payment-method`: a Stripe payment method the customer already has. */
export const paymentMethodRequest = z.object({ paymentMethod: idString(255).min(3) });
/** `PUT /v1/billing/spend-caps`: the organization's cap (or an app's); null removes it. */
export const spendCapRequest = z.object({
  app: idString(64).optional(),
  limitCents: z.number().int().min(1).max(100_000_000).nullable(),
});
/** `PUT /v1/billing/providers/:provider` (admin): a provider's payout settings; null resets one. */
export const providerBillingRequest = z.object({
  revenueShare: z.number().min(0).max(1).nullable().optional(),
  stripeAccount: z
    .string()
    .regex(/^acct_[A-Za-z0-9]+$/, 'expected a Stripe account id (acct_…)')
    .nullable()
    .optional(),
});
/** `POST /v1/billing/jobs/:job` (admin): the month to run the job for (`YYYY-MM`). */
export const billingJobRequest = z.object({ period: z.string().optional() });
/** `POST /v1/billing/stripe/webhook`: a Stripe event, signed by Stripe (`Stripe-Signature`). */
export const stripeEventRequest = z.object({ id: z.string(), type: z.string() });

export type CreateAppRequest = z.infer<typeof createAppRequest>;
export type CreateAddonRequest = z.infer<typeof createAddonRequest>;
export type AttachRequest = z.infer<typeof attachRequest>;
export type SetConfigVarsRequest = z.infer<typeof setConfigVarsRequest>;

// ---- answers ----------------------------------------------------------------------------

export const addonState = z.enum([
  'provisioning',
  'provisioned',
  'changing_plan',
  'failed',
  'destroying',
  'destroyed',
  'suspended',
]);
export const attachmentState = z.enum(['attaching', 'attached', 'rotating', 'detaching', 'detached', 'failed']);
export type AddonState = z.infer<typeof addonState>;
export type AttachmentState = z.infer<typeof attachmentState>;

const timestamp = z.iso.datetime({ offset: true });

export const attachment = z.object({
  id: z.string(),
  name: z.string(),
  /** The app it is attached to (name); null when it is another organization's (a shared add-on). */
  app: z.string().nullable(),
  /** The slug of that app's organization. */
  appOrganization: z.string(),
  /** The add-on (name). */
  addon: z.string(),
  state: attachmentState,
  configVarNames: z.array(z.string()),
  lastError: z.string().nullable(),
  createdAt: timestamp,
});
export type Attachment = z.infer<typeof attachment>;

export const addon = z.object({
  id: z.string(),
  name: z.string(),
  /** The owning app (name); null when another organization shares it with the caller's. */
  app: z.string().nullable(),
  /** The slug of the organization that owns it. */
  organization: z.string(),
  /** Slugs. */
  service: z.string(),
  plan: z.string(),
  provider: z.string(),
  state: addonState,
  lastError: z.string().nullable(),
  createdAt: timestamp,
  attachments: z.array(attachment),
});
export type Addon = z.infer<typeof addon>;

export const app = z.object({
  id: z.string(),
  name: z.string(),
  organization: z.string(),
  releaseVersion: z.number().int(),
  createdAt: timestamp,
});
/** `GET /v1/apps/:app`: the app with its add-ons, its attachments and where its events stand. */
export const appDetail = app.extend({
  lastEventId: z.string(),
  addons: z.array(addon),
  attachments: z.array(attachment),
});
/**
 * `GET /v1/apps`: each app; with `?include=addons,attachments` also the fields it names, as
 * `GET /v1/apps/:app` answers them, and then `lastEventId` too (where to follow its events).
 */
export const listedApp = app.extend({
  lastEventId: appDetail.shape.lastEventId.optional(),
  addons: appDetail.shape.addons.optional(),
  attachments: appDetail.shape.attachments.optional(),
});
/** What `GET /v1/apps?include=` may name. */
export const appInclude = z.enum(['addons', 'attachments']);
export type App = z.infer<typeof app>;
export type AppDetail = z.infer<typeof appDetail>;
export type ListedApp = z.infer<typeof listedApp>;
export type AppInclude = z.infer<typeof appInclude>;

const releaseActor = z.union([
  z.object({ kind: z.string(), id: z.string().nullable(), name: z.string().nullable() }),
  z.string(),
]);
export const release = z.object({
  version: z.number().int(),
  /** Each change; `value` only for a caller allowed to read values, and never for secret vars. */
  diff: z.array(z.object({ name: z.string(), change: z.string(), value: z.string().nullable().optional() })),
  /** Attachment-owned vars a rollback left as they were. */
  kept: z.array(z.object({ name: z.string(), attachment: z.string() })).optional(),
  actor: releaseActor,
  reason: z.string().nullable(),
  createdAt: timestamp,
});
export type Release = z.infer<typeof release>;

export const preflight = z.object({
  ok: z.boolean(),
  service: z.string(),
  plan: z.string(),
  price: z.object({ free: z.boolean(), cents: z.number(), currency: z.string(), interval: z.string() }),
  /** Billing (docs/billing.md): the charge from now to the end of the month; null for free plans. */
  proration: z.object({ cents: z.number(), from: z.string(), to: z.string() }).nullable(),
  billingMode: z.enum(['stripe', 'ledger-only']).optional(),
  paymentRequired: z.boolean().optional(),
  billingNotice: z.string().nullable().optional(),
  attachmentName: z.string(),
  nameTaken: z.boolean(),
  configVars: z.array(z.string()),
  collisions: z.array(z.object({ name: z.string(), owner: z.string() })),
  parameterErrors: z.array(z.object({ field: z.string(), message: z.string() })),
  problems: z.array(z.string()),
  /** The service's coarse health (docs/provider-portal.md, "Health"). */
  serviceHealth: z.enum(['ok', 'degraded', 'failing']).optional(),
  /** What does not refuse the attach but may make it fail (a failing service). */
  warnings: z.array(z.string()).optional(),
});
export type Preflight = z.infer<typeof preflight>;

export const event = z.object({
  id: z.string(),
  app: z.string(),
  addon: z.string().nullable(),
  kind: z.string(),
  detail: z.unknown(),
  createdAt: timestamp,
});
export type Event = z.infer<typeof event>;

// ---- a provider's own data (docs/provider-portal.md) --------------------------------------

/** One add-on of the provider's services, as the provider sees it: nothing of the organization but its name and apps count. */
export const installation = z.object({
  id: z.string(),
  /** The add-on's name (the provider receives it as the instance's context too). */
  name: z.string(),
  /** Slugs. */
  service: z.string(),
  plan: z.string(),
  state: addonState,
  /** The plan's region when it offers exactly one; Annex records no region per add-on. */
  region: z.string().nullable(),
  organization: z.object({ name: z.string(), apps: z.number().int() }),
  lastError: z.string().nullable(),
  createdAt: timestamp,
  updatedAt: timestamp,
  destroyedAt: timestamp.nullable(),
  /** Pass as `after` to list what follows this row. */
  cursor: z.string(),
});
export type Installation = z.infer<typeof installation>;

export const installationsPage = z.object({
  installations: z.array(installation),
  /** Pass as `after` for the next page; null on the last one. */
  nextCursor: z.string().nullable(),
  /** Installations matching the filters, every page together. */
  totalCount: z.number().int(),
});
export type InstallationsPage = z.infer<typeof installationsPage>;

/** Live add-ons (not destroyed) at the end of each UTC day, oldest first. */
export const installationActivity = z.object({
  days: z.array(z.object({ day: z.string(), active: z.number().int() })),
});
export type InstallationActivity = z.infer<typeof installationActivity>;

const payoutState = z.enum(['pending', 'paid', 'ledger_only', 'no_account', 'nothing_due']);

export const providerPayout = z.object({
  id: z.string(),
  /** `YYYY-MM`: the month whose invoices it pays. */
  period: z.string(),
  currency: z.string(),
  /** 1: the month's first payout; 2…: invoices paid after it (adjustments). */
  sequence: z.number().int(),
  grossCents: z.number().int(),
  revenueShare: z.number(),
  amountCents: z.number().int(),
  /** `ledger_only`: what would be paid, billing being ledger-only; `paid`: transferred. */
  state: payoutState,
  stripeTransfer: z.string().nullable(),
  createdAt: timestamp,
  paidAt: timestamp.nullable(),
});
export type ProviderPayout = z.infer<typeof providerPayout>;

/** One month of the provider's money, in one currency, as invoicing and payouts computed it. */
export const revenueMonth = z.object({
  period: z.string(),
  currency: z.string(),
  /** Σ the provider's lines on the month's invoices, whatever their state. */
  grossCents: z.number().int(),
  /** Of it, on invoices paid (or ledger-only): what payouts count. */
  collectedCents: z.number().int(),
  /** Σ the month's payouts (the provider's share of what was collected and counted). */
  shareCents: z.number().int(),
  /** Of `shareCents`, what later payouts added (invoices paid after the month's first payout). */
  adjustmentsCents: z.number().int(),
  /** Collected but not yet counted by a payout. */
  unpaidOutCents: z.number().int(),
  payouts: z.array(providerPayout),
});
export type RevenueMonth = z.infer<typeof revenueMonth>;

export const providerRevenue = z.object({
  provider: z.string(),
  /** `stripe` (payouts are Stripe Connect transfers) or `ledger-only` (nothing is paid; payouts show what would be). */
  mode: z.enum(['stripe', 'ledger-only']),
  /** The share the next payout uses (0..1). */
  revenueShare: z.number(),
  /** Newest first. */
  months: z.array(revenueMonth),
});
export type ProviderRevenue = z.infer<typeof providerRevenue>;
// A provider's health (docs/provider-portal.md, "Health"): the broker's record of its calls.

/** Calls in a window: how many, how many failed, and the latency's 50th and 99th percentiles (ms). */
export const callStats = z.object({
  count: z.number().int(),
  errors: z.number().int(),
  /** errors / count; 0 without calls. */
  errorRate: z.number(),
  p50Ms: z.number().nullable(),
  p99Ms: z.number().nullable(),
});
export type CallStats = z.infer<typeof callStats>;

export const providerCallOperation = z.enum([
  'provision',
  'update',
  'deprovision',
  'bind',
  'unbind',
  'last_operation',
  'fetch_instance',
  'fetch_binding',
  'other',
]);

export const providerCallFailure = z.object({
  operation: providerCallOperation,
  /** The service's slug; null when the call named none the catalog knows. */
  service: z.string().nullable(),
  outcome: z.enum(['error', 'timeout', 'unreachable']),
  /** The provider's HTTP status; null without an answer. */
  status: z.number().int().nullable(),
  latencyMs: z.number().int(),
  /** The OSB error key the provider answered, if any. */
  error: z.string().nullable(),
  /** What the provider said (its `description`), or why there was no answer; at most 1 KB. */
  description: z.string().nullable(),
  at: timestamp,
});
export type ProviderCallFailure = z.infer<typeof providerCallFailure>;

/** One bucket of a time series: calls that started in [start, start + its size). */
export const callBucket = z.object({
  start: timestamp,
  count: z.number().int(),
  errors: z.number().int(),
  errorRate: z.number(),
  p50Ms: z.number().nullable(),
});
export type CallBucket = z.infer<typeof callBucket>;

export const providerHealth = z.object({
  provider: z.string(),
  /** The `?service=` filter, or null for every service of the provider. */
  service: z.string().nullable(),
  generatedAt: timestamp,
  /** Every operation together. */
  overall: z.object({ lastHour: callStats, last30Days: callStats }),
  /** Each operation with a call in the last 30 days, by name. */
  operations: z.array(z.object({ operation: providerCallOperation, lastHour: callStats, last30Days: callStats })),
  /** The most recent failed calls (at most 20, last 30 days), newest first. */
  failures: z.array(providerCallFailure),
  /** The last 24 hours, one bucket an hour (UTC), oldest first; hours without calls count 0. */
  hourly: z.array(callBucket),
  /** The last 30 days, one bucket a day (UTC), oldest first; days without calls count 0. */
  daily: z.array(callBucket),
});
export type ProviderHealth = z.infer<typeof providerHealth>;
// ---- webhooks, billing, Stripe ------------------------------------------------------------

const nullableTimestamp = timestamp.nullable();

/** The calling platform's webhook: where it goes, and until when the previous secret still signs. */
export const platformWebhook = z.object({ url: z.string().nullable(), previousSecretExpiresAt: nullableTimestamp });
/** A webhook's settings with its signing secret, answered only when it is set or rotated. */
export const platformWebhookSecret = z.object({ url: z.string(), secret: z.string() });
export const webhookDelivery = z.object({
  id: z.string(),
  app: z.string(),
  platform: z.string(),
  event: z.string(),
  release: z.number().int().nullable(),
  state: z.enum(['pending', 'delivered', 'failed']),
  attempts: z.number().int(),
  lastStatus: z.number().int().nullable(),
  lastError: z.string().nullable(),
  /** When the next attempt is due; null once delivered or failed. */
  nextAttemptAt: nullableTimestamp,
  createdAt: timestamp,
  deliveredAt: nullableTimestamp,
});
export type WebhookDelivery = z.infer<typeof webhookDelivery>;

/** An organization's billing account (docs/billing.md). */
export const billingAccount = z.object({
  organization: z.string(),
  mode: z.enum(['stripe', 'ledger-only']),
  status: z.enum(['good', 'past_due', 'suspended']),
  pastDueSince: nullableTimestamp,
  graceEndsAt: nullableTimestamp,
  stripeCustomer: z.string().nullable(),
  paymentMethod: z
    .object({
      id: z.string(),
      brand: z.string().nullable(),
      last4: z.string().nullable(),
      expMonth: z.number().int().nullable(),
      expYear: z.number().int().nullable(),
    })
    .nullable(),
  spendCaps: z.array(z.object({ app: z.string().nullable(), limitCents: z.number(), spentCents: z.number() })),
  alerts: z.array(
    z.object({
      app: z.string().nullable(),
      threshold: z.number(),
      month: z.string(),
      spentCents: z.number(),
      createdAt: timestamp,
    }),
  ),
  currentMonthCents: z.number(),
});
export type BillingAccount = z.infer<typeof billingAccount>;
export const invoice = z.object({
  id: z.string(),
  organization: z.string(),
  period: z.string(),
  state: z.string(),
  totalCents: z.number(),
  currency: z.string(),
  stripeInvoice: z.string().nullable(),
  lines: z.array(
    z.object({
      kind: z.string(),
      addon: z.string(),
      app: z.string(),
      plan: z.string(),
      description: z.string(),
      seconds: z.number().optional(),
      unit: z.string().optional(),
      quantity: z.number().optional(),
      cents: z.number(),
    }),
  ),
  createdAt: timestamp,
  paidAt: nullableTimestamp,
});
export type Invoice = z.infer<typeof invoice>;
/** `GET /v1/billing/usage`: an app's charges of a month so far. */
export const appUsage = z.object({
  app: z.string(),
  period: z.string(),
  addons: z.array(
    z.object({ addon: z.string(), plan: z.string(), seconds: z.number(), cents: z.number(), capped: z.boolean() }),
  ),
  metered: z.array(z.object({ addon: z.string(), unit: z.string(), quantity: z.number(), cents: z.number() })),
  totalCents: z.number(),
});
/** A provider's payout settings (admin). */
export const providerBilling = z.object({
  provider: z.string(),
  revenueShare: z.number().nullable(),
  stripeAccount: z.string().nullable(),
});

/** The answers of each route, by the route as the broker mounts it. */
export const answers = {
  'GET /v1/apps': z.object({ apps: z.array(listedApp) }),
  'POST /v1/apps': app,
  'GET /v1/apps/:app': appDetail,
  'GET /v1/addons': z.object({ addons: z.array(addon) }),
  'GET /v1/addons/:addon': addon,
  'POST /v1/apps/:app/addons/preflight': preflight,
  'POST /v1/apps/:app/addons': z.object({ addon, attachment: attachment.nullable() }),
  'POST /v1/apps/:app/attachments/preflight': preflight,
  'POST /v1/apps/:app/attachments': z.object({ attachment }),
  'DELETE /v1/apps/:app/attachments/:name': z.object({ attachment }),
  'DELETE /v1/addons/:addon': z.object({ addon }),
  'PATCH /v1/addons/:addon': z.object({ addon }),
  'POST /v1/addons/:addon/rotate': z.object({ addon }),
  'GET /v1/addons/:addon/shares': z.object({ organizations: z.array(z.string()) }),
  'POST /v1/addons/:addon/shares': z.object({ organizations: z.array(z.string()) }),
  'DELETE /v1/addons/:addon/shares/:organization': z.object({ organizations: z.array(z.string()) }),
  'POST /v1/addons/:addon/sso': z.object({ url: z.string(), expiresAt: timestamp }),
  'GET /v1/apps/:app/config-vars': z.object({ release: z.number().int(), vars: z.record(z.string(), z.string()) }),
  'GET /v1/apps/:app/config-var-names': z.object({
    release: z.number().int(),
    vars: z.array(z.object({ name: z.string(), owner: z.string() })),
  }),
  'PATCH /v1/apps/:app/config-vars': z.union([release, z.object({ unchanged: z.literal(true) })]),
  'GET /v1/apps/:app/releases': z.object({ releases: z.array(release) }),
  'POST /v1/apps/:app/releases/rollback': release,
  'GET /v1/apps/:app/events': z.object({ events: z.array(event) }),
  'GET /v1/platforms/self/webhook': platformWebhook,
  'PUT /v1/platforms/self/webhook': platformWebhookSecret,
  'POST /v1/platforms/self/webhook/rotate': platformWebhookSecret.extend({
    previousSecretExpiresAt: nullableTimestamp,
  }),
  'GET /v1/webhook-deliveries': z.object({ deliveries: z.array(webhookDelivery) }),
  'POST /v1/webhook-deliveries/:id/redeliver': webhookDelivery,
  'GET /v1/billing/account': billingAccount,
  /** A Stripe SetupIntent for the console to collect a card with Stripe.js. */
  'POST /v1/billing/setup-intent': z.object({ id: z.string(), clientSecret: z.string() }),
  /** The Stripe Checkout page (setup mode) to send the user's browser to. */
  'POST /v1/billing/card-checkout': z.object({ id: z.string(), url: z.string() }),
  'GET /v1/providers/:provider/installations': installationsPage,
  'GET /v1/providers/:provider/installations/activity': installationActivity,
  'GET /v1/providers/:provider/revenue': providerRevenue,
  'GET /v1/providers/:provider/health': providerHealth,
  'PUT /v1/billing/payment-method': billingAccount,
  'PUT /v1/billing/spend-caps': billingAccount,
  'GET /v1/billing/invoices': z.object({ invoices: z.array(invoice) }),
  'GET /v1/billing/invoices/:id': invoice,
  'GET /v1/billing/usage': appUsage,
  'PUT /v1/billing/providers/:provider': providerBilling,
  /** What the job did (counts by job). */
  'POST /v1/billing/jobs/:job': z.record(z.string(), z.unknown()),
  'POST /v1/billing/stripe/webhook': z.object({
    received: z.literal(true),
    duplicate: z.boolean(),
    outcome: z.string(),
  }),
} as const;
export type Route = keyof typeof answers;
export type Answer<R extends Route> = z.infer<(typeof answers)[R]>;

/** The request body of each route that reads one, by the route as the broker mounts it. */
export const requests = {
  'POST /v1/apps': createAppRequest,
  'POST /v1/apps/:app/addons/preflight': preflightRequest,
  'POST /v1/apps/:app/addons': createAddonRequest,
  'POST /v1/apps/:app/attachments/preflight': attachRequest,
  'POST /v1/apps/:app/attachments': attachRequest,
  'PATCH /v1/addons/:addon': changePlanRequest,
  'POST /v1/addons/:addon/rotate': rotateRequest,
  'POST /v1/addons/:addon/shares': shareRequest,
  'POST /v1/addons/:addon/sso': ssoRequest,
  'PATCH /v1/apps/:app/config-vars': setConfigVarsRequest,
  'POST /v1/apps/:app/config-vars/confirm': confirmReleaseRequest,
  'POST /v1/apps/:app/releases/rollback': rollbackRequest,
  'PUT /v1/platforms/self/webhook': webhookRequest,
  'POST /v1/platforms/self/webhook/rotate': rotateWebhookRequest,
  'POST /v1/billing/card-checkout': cardCheckoutRequest,
  'PUT /v1/billing/payment-method': paymentMethodRequest,
  'PUT /v1/billing/spend-caps': spendCapRequest,
  'PUT /v1/billing/providers/:provider': providerBillingRequest,
  'POST /v1/billing/jobs/:job': billingJobRequest,
  'POST /v1/billing/stripe/webhook': stripeEventRequest,
} as const;

/** An organization's billing routes act for the caller's organization, or the one named (platform and admin tokens). */
const organizationQuery = z.object({ organization: z.string().optional() });

/** The query parameters each route reads (each given once). */
export const queries = {
  'GET /v1/apps': z.object({ include: z.string().optional() }),
  'GET /v1/addons': z.object({ app: z.string().optional() }),
  'GET /v1/apps/:app/events': z.object({ after: z.string().optional(), waitMs: z.string().optional() }),
  'GET /v1/webhook-deliveries': z.object({
    app: z.string().optional(),
    state: webhookDelivery.shape.state.optional(),
  }),
  'GET /v1/billing/account': organizationQuery,
  'POST /v1/billing/setup-intent': organizationQuery,
  'POST /v1/billing/card-checkout': organizationQuery,
  'PUT /v1/billing/payment-method': organizationQuery,
  'PUT /v1/billing/spend-caps': organizationQuery,
  'GET /v1/billing/invoices': organizationQuery,
  'GET /v1/billing/usage': z.object({ app: z.string(), period: z.string().optional() }),
} as const;

/**
 * The statuses of a route's successful answers, where not only 200. An answer with a body is
 * the route's `answers` schema; 202 says the work goes on (poll the resource), 204 and 304 have no body.
 */
export const successStatuses: Readonly<Partial<Record<string, readonly number[]>>> = {
  'POST /v1/apps': [201],
  'POST /v1/apps/:app/addons': [201, 202],
  'POST /v1/apps/:app/attachments': [201, 202],
  'DELETE /v1/apps/:app/attachments/:name': [200, 202],
  'DELETE /v1/addons/:addon': [200, 202],
  'PATCH /v1/addons/:addon': [200, 202],
  'POST /v1/addons/:addon/rotate': [202],
  'POST /v1/addons/:addon/shares': [201],
  'POST /v1/addons/:addon/sso': [201],
  'GET /v1/apps/:app/config-vars': [200, 304],
  'POST /v1/apps/:app/config-vars/confirm': [204],
  'POST /v1/apps/:app/releases/rollback': [201],
  'DELETE /v1/platforms/self/webhook': [204],
  'POST /v1/webhook-deliveries/:id/redeliver': [202],
  'POST /v1/billing/setup-intent': [201],
  'POST /v1/billing/card-checkout': [201],
};

/**
 * The routes under `/v1` that act for no organization, so need no scope (they are not in the
 * scope table of @annex/platform), other than the provider callbacks (whose table is the SDK's
 * `PROVIDER_CALLBACKS`, @annex/sdk/callbacks), each with what authenticates its caller.
 */
export const unscopedRoutes = {
  /** Stripe's webhook, signed by Stripe (`Stripe-Signature`). */
  'POST /v1/billing/stripe/webhook': 'stripe',
} as const;
export type UnscopedRoute = keyof typeof unscopedRoutes;

// ---- errors -----------------------------------------------------------------------------

/** Error codes of the `/v1` REST API (docs/apps.md), each with its HTTP status. */
export const API_ERRORS = {
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  invalid_input: 400,
  name_taken: 409,
  var_collision: 409,
  conflict: 409,
  not_offered: 422,
  /** Billing: a paid plan needs a default payment method (docs/billing.md). */
  payment_required: 402,
  provider_failed: 502,
  /** The database cannot be reached; retry after `Retry-After` seconds. */
  unavailable: 503,
} as const;
export type ApiErrorCode = keyof typeof API_ERRORS;

/**
 * The body of every refusal of the `/v1` API (nothing was changed): the code, a message
 * naming what is wrong, and, where they apply, the field at fault, the name taken and its
 * owner, or the scope the token lacks. `internal` is a 500 that names only the request id.
 */
export const apiError = z.object({
  error: z.enum([...(Object.keys(API_ERRORS) as ApiErrorCode[]), 'internal']),
  message: z.string(),
  field: z.string().optional(),
  name: z.string().optional(),
  owner: z.string().optional(),
  scope: z.string().optional(),
});
export type ApiError = z.infer<typeof apiError>;

/**
 * Every status a `/v1` refusal may have: the codes' statuses, a body too large (413) or not
 * UTF-8 JSON (415), both `invalid_input`, and an internal error (500).
 */
export const API_ERROR_STATUSES: readonly number[] = [...new Set([...Object.values(API_ERRORS), 413, 415, 500])].sort(
  (a, b) => a - b,
);
