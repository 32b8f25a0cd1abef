import type { PlanContext } from '../../shared/db/catalog.js';
import type { Executor } from '../../shared/db/executor.js';
import { type ApiCaller, ApiFailure, invalidInput, mayAccess } from '../../shared/domain/api-failure.js';
import type { BrokerContext } from '../../shared/domain/context.js';
import {
  type AccountRow,
  findAccountByCustomer,
  findPaymentStanding,
  getAccount,
  insertAccountIfAbsent,
  setStripeCustomerIfUnset,
  updatePaymentMethodIfNewer,
} from '../db/accounts.js';
import { databaseClock } from '../db/clock.js';
import { findOrganizationIdBySlug, getOrganizationNames, getOrganizationSlug } from '../db/organizations.js';
import { deleteSpendCap, listSpendAlerts, listSpendCapsWithApps, upsertSpendCap } from '../db/spend.js';
import { meteredSpend } from '../db/usage.js';
import type { Billing } from './context.js';
import { monthCharges } from './ledger.js';
import { periodOf, prorationUntilMonthEnd } from './money.js';

export type { AccountRow } from '../db/accounts.js';

/** The org's billing account, created (ledger side only) on first use. */
export async function ensureAccount(db: Executor, organizationId: string): Promise<AccountRow> {
  await insertAccountIfAbsent(db, organizationId);
  return getAccount(db, organizationId);
}

/**
 * The org a request is about: `?organization=slug` (one the caller may access), else the
 * org of an org token.
 */
export async function resolveOrganization(
  ctx: BrokerContext,
  caller: ApiCaller,
  slug: string | undefined,
): Promise<string> {
  if (!slug) {
    if (caller.principal.kind === 'org') return caller.principal.organizationId;
    throw invalidInput('organization', 'required with a platform or admin token (?organization=slug)');
  }
  const orgId = await findOrganizationIdBySlug(ctx.db, slug);
  if (!orgId || !mayAccess(caller, orgId)) throw new ApiFailure('not_found', `organization "${slug}" not found`);
  return orgId;
}

/** The org's Stripe customer, created once (the idempotency key is the org's id). */
export async function ensureCustomer(ctx: BrokerContext, organizationId: string): Promise<string> {
  const { stripe } = ctx.billing;
  if (!stripe) throw new ApiFailure('conflict', 'billing is ledger-only (no STRIPE_SECRET_KEY): nothing is charged');
  const account = await ensureAccount(ctx.db, organizationId);
  if (account.stripe_customer_id) return account.stripe_customer_id;
  const org = await getOrganizationNames(ctx.db, organizationId);
  const customer = await stripe.customers.create(
    { name: org.name, metadata: { annex_organization: organizationId, annex_slug: org.slug } },
    { idempotencyKey: `annex-customer-${organizationId}` },
  );
  await setStripeCustomerIfUnset(ctx.db, organizationId, customer.id);
  return customer.id;
}

export interface PriceNotice {
  billingMode: Billing['mode'];
  /** The attach would be refused: no default payment method (Stripe on), or a suspended account. */
  paymentRequired: boolean;
  proration: { cents: number; from: string; to: string } | null;
  notice: string | null;
}

/** What the preflight says about paying for a plan: the same decision as `requirePaymentMethod`. */
export async function priceNotice(ctx: BrokerContext, organizationId: string, plan: PlanContext): Promise<PriceNotice> {
  const billing = ctx.billing;
  const paid = isPaid(plan);
  const proration = paid ? prorationUntilMonthEnd(plan.plan.price_cents, new Date()) : null;
  const problem = await paymentProblem(ctx, ctx.db, organizationId, plan);
  return {
    billingMode: billing.mode,
    paymentRequired: problem !== null,
    proration: proration
      ? { cents: proration.cents, from: proration.from.toISOString(), to: proration.to.toISOString() }
      : null,
    notice:
      problem ??
      (paid && billing.mode === 'ledger-only'
        ? 'billing is ledger-only on this installation: the charge is computed and shown, nothing is charged'
        : null),
  };
}

/**
 * Refuses a paid plan when Stripe is on and the org has no default payment method, or its
 * account is suspended. Runs before anything is created; free plans pass.
 */
export async function requirePaymentMethod(
  ctx: BrokerContext,
  db: Executor,
  organizationId: string,
  plan: PlanContext,
): Promise<void> {
  const problem = await paymentProblem(ctx, db, organizationId, plan);
  if (problem) throw new ApiFailure('payment_required', problem, { field: 'plan' });
}

function isPaid(plan: PlanContext): boolean {
  return !plan.plan.free && plan.plan.price_cents > 0;
}

/** Why the org cannot take `plan` now as far as paying goes; null when it can. */
async function paymentProblem(
  ctx: BrokerContext,
  db: Executor,
  organizationId: string,
  plan: PlanContext,
): Promise<string | null> {
  if (!isPaid(plan) || ctx.billing.mode === 'ledger-only') return null;
  const account = await findPaymentStanding(db, organizationId);
  if (!account?.default_payment_method) {
    return `plan ${plan.service.slug}:${plan.plan.slug} costs ${plan.plan.price_cents} ${plan.plan.currency} cents a month; add a default payment method first (annex billing)`;
  }
  if (account.status === 'suspended') return 'the billing account is suspended for an unpaid invoice; pay it first';
  return null;
}

export interface AccountView {
  organization: string;
  mode: Billing['mode'];
  status: 'good' | 'past_due' | 'suspended';
  pastDueSince: string | null;
  graceEndsAt: string | null;
  stripeCustomer: string | null;
  paymentMethod: MirroredCard | null;
  spendCaps: { app: string | null; limitCents: number; spentCents: number }[];
  alerts: { app: string | null; threshold: number; month: string; spentCents: number; createdAt: string }[];
  currentMonthCents: number;
}

export async function accountView(ctx: BrokerContext, organizationId: string): Promise<AccountView> {
  const billing = ctx.billing;
  const account = await ensureAccount(ctx.db, organizationId);
  const organization = await getOrganizationSlug(ctx.db, organizationId);
  const now = new Date();
  const period = periodOf(now);
  const caps = await listSpendCapsWithApps(ctx.db, organizationId);
  const spendCaps = [];
  for (const cap of caps) {
    const spent = await meteredSpend(ctx.db, organizationId, cap.app_id, period);
    spendCaps.push({ app: cap.app, limitCents: cap.limit_cents, spentCents: Math.round(spent) });
  }
  const alerts = await listSpendAlerts(ctx.db, organizationId, 50);
  const charges = await monthCharges(ctx.db, { organizationId }, period, now);
  const current =
    charges.addons.reduce((sum, c) => sum + c.cents, 0) + charges.metered.reduce((sum, m) => sum + m.cents, 0);
  return {
    organization,
    mode: billing.mode,
    status: account.status,
    pastDueSince: account.past_due_since?.toISOString() ?? null,
    graceEndsAt: account.past_due_since
      ? new Date(account.past_due_since.getTime() + billing.graceDays * 86_400_000).toISOString()
      : null,
    stripeCustomer: account.stripe_customer_id,
    paymentMethod: account.default_payment_method
      ? {
          id: account.default_payment_method,
          brand: account.payment_method_brand,
          last4: account.payment_method_last4,
          expMonth: account.payment_method_exp_month,
          expYear: account.payment_method_exp_year,
        }
      : null,
    spendCaps,
    alerts: alerts.map((a) => ({
      app: a.app,
      threshold: a.threshold,
      month: a.month,
      spentCents: Math.round(Number(a.spent_cents)),
      createdAt: a.created_at.toISOString(),
    })),
    currentMonthCents: Math.round(current),
  };
}

/** A SetupIntent for the console to collect a card (Stripe.js confirms it in the browser). */
export async function createSetupIntent(
  ctx: BrokerContext,
  organizationId: string,
): Promise<{ id: string; clientSecret: string }> {
  const customer = await ensureCustomer(ctx, organizationId);
  const stripe = ctx.billing.stripe;
  if (!stripe) throw new ApiFailure('conflict', 'billing is ledger-only');
  const intent = await stripe.setupIntents.create({
    customer,
    usage: 'off_session',
    metadata: { annex_organization: organizationId },
  });
  return { id: intent.id, clientSecret: intent.client_secret ?? '' };
}

/**
 * A Stripe Checkout Session in setup mode for the org's customer (created first if missing):
 * Stripe's hosted page collects the card, so no card number reaches Annex. The user comes
 * back to `returnUrl` (with `?checkout=` and the session's id, or without it when they
 * cancel); the `checkout.session.completed` webhook makes the card the default.
 */
export async function createCardCheckout(
  ctx: BrokerContext,
  organizationId: string,
  returnUrl: string,
): Promise<{ id: string; url: string }> {
  const customer = await ensureCustomer(ctx, organizationId);
  const stripe = ctx.billing.stripe;
  if (!stripe) throw new ApiFailure('conflict', 'billing is ledger-only');
  const back = new URL(returnUrl);
  back.searchParams.set('checkout', 'CHECKOUT_SESSION_ID');
  const metadata = { annex_organization: organizationId };
  const session = await stripe.checkout.sessions.create({
    mode: 'setup',
    customer,
    currency: 'usd',
    // Stripe substitutes the literal `{CHECKOUT_SESSION_ID}`, braces unescaped.
    success_url: back.toString().replace('CHECKOUT_SESSION_ID', '{CHECKOUT_SESSION_ID}'),
    cancel_url: returnUrl,
    metadata,
    setup_intent_data: { metadata },
  });
  if (!session.url) throw new Error(`Stripe answered Checkout Session ${session.id} without a url`);
  return { id: session.id, url: session.url };
}

/** Attaches a payment method to the org's customer and makes it the default for invoices. */
export async function setDefaultPaymentMethod(
  ctx: BrokerContext,
  organizationId: string,
  paymentMethodId: string,
): Promise<void> {
  const customer = await ensureCustomer(ctx, organizationId);
  const stripe = ctx.billing.stripe;
  if (!stripe) throw new ApiFailure('conflict', 'billing is ledger-only');
  let method: Awaited<ReturnType<typeof stripe.paymentMethods.attach>>;
  try {
    method = await stripe.paymentMethods.attach(paymentMethodId, { customer });
  } catch (error) {
    const e = error as { type?: string; message?: string };
    if (e.type === 'StripeInvalidRequestError' || e.type === 'StripeCardError') {
      throw new ApiFailure('invalid_input', `paymentMethod: ${e.message ?? 'refused by Stripe'}`, {
        field: 'paymentMethod',
      });
    }
    throw error;
  }
  await stripe.customers.update(customer, { invoice_settings: { default_payment_method: method.id } });
  // Mirrored as a read begun after the write, like any other: a webhook's read that began
  // before it (and saw the old card) cannot win over this one.
  const observed = await observeDefaultPaymentMethod(ctx, customer);
  if (observed) await recordPaymentMethod(ctx.db, customer, observed.card, observed.readAt);
}

/** A payment method as the ledger mirrors it from Stripe (`null`: the customer has none). */
export interface MirroredCard {
  id: string;
  brand: string | null;
  last4: string | null;
  expMonth: number | null;
  expYear: number | null;
}

/**
 * The database's clock as a read of (or write to) Stripe's customer begins: the stamp that
 * orders mirrors of it. Replicas handling two webhooks at once may finish their reads in
 * either order; the read that began later saw at least every change made before it began,
 * and any change after it brings another `customer.updated`, so the latest start wins.
 */
export async function stripeReadBegins(db: Executor): Promise<Date> {
  return (await databaseClock(db)) ?? new Date();
}

/** A customer's default payment method as read from Stripe, and when that read began. */
export interface ObservedPaymentMethod {
  card: MirroredCard | null;
  readAt: Date;
}

/**
 * Reads a customer's default payment method from Stripe as it is now (undefined when the
 * customer is deleted), stamped with when the read began. Every mirror goes through here,
 * writers included (after their write), so the stamps order what they saw.
 */
export async function observeDefaultPaymentMethod(
  ctx: BrokerContext,
  customerId: string,
): Promise<ObservedPaymentMethod | undefined> {
  const stripe = ctx.billing.stripe;
  if (!stripe) return undefined;
  const readAt = await stripeReadBegins(ctx.db);
  const customer = await stripe.customers.retrieve(customerId);
  if (customer.deleted) return undefined;
  const current = customer.invoice_settings?.default_payment_method;
  const methodId = typeof current === 'string' ? current : current?.id;
  if (!methodId) return { card: null, readAt };
  const method = typeof current === 'string' ? await stripe.paymentMethods.retrieve(methodId) : current;
  const card = method?.card;
  return {
    card: {
      id: methodId,
      brand: card?.brand ?? null,
      last4: card?.last4 ?? null,
      expMonth: card?.exp_month ?? null,
      expYear: card?.exp_year ?? null,
    },
    readAt,
  };
}

export type MirrorOutcome = 'applied' | 'unknown customer' | 'stale';

/**
 * Mirrors a customer's default payment method into the ledger (API answer or webhook),
 * unless a read of Stripe that began later than `readAt` is already mirrored.
 */
export async function recordPaymentMethod(
  db: Executor,
  customerId: string,
  card: MirroredCard | null,
  readAt: Date,
): Promise<MirrorOutcome> {
  if (await updatePaymentMethodIfNewer(db, customerId, card, readAt)) return 'applied';
  const known = await findAccountByCustomer(db, customerId);
  return known ? 'stale' : 'unknown customer';
}

/** Sets (or with `null` removes) the org's or one app's monthly cap on metered spend. */
export async function setSpendCap(
  db: Executor,
  organizationId: string,
  appId: string | null,
  limitCents: number | null,
): Promise<void> {
  const scope = appId ?? 'org';
  if (limitCents === null) {
    await deleteSpendCap(db, organizationId, scope);
    return;
  }
  await upsertSpendCap(db, organizationId, scope, appId, limitCents);
}
