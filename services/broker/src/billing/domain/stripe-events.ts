import type Stripe from 'stripe';
import type { Executor } from '../../shared/db/executor.js';
import { ApiFailure } from '../../shared/domain/api-failure.js';
import type { BrokerContext } from '../../shared/domain/context.js';
import {
  type AccountMirrorRow,
  findAccountMirrorByCustomer,
  findAccountMirrorByDefaultMethod,
} from '../db/accounts.js';
import {
  type InvoiceRow,
  lockInvoice,
  lockInvoiceByStripeId,
  markInvoicePaid,
  markInvoicePaymentFailed,
} from '../db/invoices.js';
import { findStripeEvent, insertStripeEventIfAbsent, setStripeEventOutcome } from '../db/stripe-events.js';
import {
  type MirrorOutcome,
  type ObservedPaymentMethod,
  observeDefaultPaymentMethod,
  recordPaymentMethod,
} from './accounts.js';
import { markPastDue, restoreIfSettled } from './dunning.js';

// Stripe webhooks: verified against the raw body, stored once by event id (in the same
// transaction as their effect, so a failure lets Stripe retry), correct in any order
// because `paid` is terminal and past-due time is the earliest failure.

export async function handleStripeWebhook(
  ctx: BrokerContext,
  rawBody: Buffer,
  signature: string | undefined,
): Promise<{ received: true; duplicate: boolean; outcome: string }> {
  const billing = ctx.billing;
  if (!billing.stripe || !billing.webhookSecret) {
    throw new ApiFailure('not_found', 'billing is ledger-only on this installation: no Stripe webhooks');
  }
  if (!signature)
    throw new ApiFailure('invalid_input', 'stripe-signature: header missing', { field: 'stripe-signature' });
  let event: Stripe.Event;
  try {
    event = billing.stripe.webhooks.constructEvent(rawBody, signature, billing.webhookSecret);
  } catch (error) {
    throw new ApiFailure('invalid_input', `stripe-signature: ${(error as Error).message}`, {
      field: 'stripe-signature',
    });
  }
  // Stripe redelivers events: a known one is answered before calling Stripe again.
  const seen = await findStripeEvent(ctx.db, event.id);
  if (seen) return { received: true as const, duplicate: true, outcome: 'duplicate' };
  // Calls Stripe (makes the card the default, reads it) before the transaction, not inside it.
  const observed = await paymentMethodOf(ctx, event);
  return ctx.db.transaction().execute(async (trx) => {
    const fresh = await insertStripeEventIfAbsent(trx, {
      id: event.id,
      type: event.type,
      created: new Date(event.created * 1000),
      outcome: 'received',
    });
    if (!fresh) return { received: true as const, duplicate: true, outcome: 'duplicate' };
    const outcome = await applyEvent(trx, event, observed);
    await setStripeEventOutcome(trx, event.id, outcome);
    return { received: true as const, duplicate: false, outcome };
  });
}

/** What reading Stripe for an event found: a default payment method to mirror, or why not. */
type Observed =
  | ({ kind: 'observed'; customerId: string } & ObservedPaymentMethod)
  | { kind: 'skipped'; reason: string };

/**
 * The payment method an event is about, read from Stripe before the event's transaction:
 * for `customer.updated` and `payment_method.detached` (of a default here), the customer's
 * default as it is now (read afresh, so events delivered out of order still end at Stripe's
 * current state); for a succeeded SetupIntent of one of our customers (directly, or of a
 * completed Checkout Session in setup mode), the same once its
 * card is made the default — unless another card was made the default after the intent
 * succeeded (a late delivery must not replace a newer card). Undefined for other events.
 */
async function paymentMethodOf(ctx: BrokerContext, event: Stripe.Event): Promise<Observed | undefined> {
  const stripe = ctx.billing.stripe;
  if (!stripe) return undefined;
  // Stripe sends every customer's events; only ours are read back, or changed.
  let ours: AccountMirrorRow | undefined;
  let intent: Stripe.SetupIntent | undefined;
  if (event.type === 'customer.updated') {
    ours = await findAccountMirrorByCustomer(ctx.db, (event.data.object as Stripe.Customer).id);
  } else if (event.type === 'setup_intent.succeeded') {
    intent = event.data.object as Stripe.SetupIntent;
    const customerId = typeof intent.customer === 'string' ? intent.customer : intent.customer?.id;
    if (!customerId) return { kind: 'skipped', reason: 'no customer' };
    ours = await findAccountMirrorByCustomer(ctx.db, customerId);
  } else if (event.type === 'checkout.session.completed') {
    // The console's "add a card" (Stripe Checkout in setup mode): its SetupIntent, read back
    // with the card, is handled as a succeeded SetupIntent is.
    const session = event.data.object as Stripe.Checkout.Session;
    if (session.mode !== 'setup') return { kind: 'skipped', reason: `a ${session.mode} session` };
    const customerId = typeof session.customer === 'string' ? session.customer : session.customer?.id;
    if (!customerId) return { kind: 'skipped', reason: 'no customer' };
    ours = await findAccountMirrorByCustomer(ctx.db, customerId);
    const named = session.metadata?.annex_organization;
    if (!ours?.stripe_customer_id || (named !== undefined && named !== ours.organization_id)) {
      ctx.logger.warn(
        { session: session.id, customer: customerId, organization: named, customerOf: ours?.organization_id },
        "Stripe Checkout Session of another customer or organization than Annex's: ignored",
      );
      return { kind: 'skipped', reason: ours ? "another organization's session" : 'not an Annex customer' };
    }
    const read = await stripe.checkout.sessions.retrieve(session.id, { expand: ['setup_intent'] });
    if (typeof read.setup_intent === 'string' || read.setup_intent?.status !== 'succeeded') {
      return { kind: 'skipped', reason: 'the SetupIntent of the session has not succeeded' };
    }
    intent = read.setup_intent;
  } else if (event.type === 'payment_method.detached') {
    // A detached method has no customer any more: the account whose default it was.
    const methodId = (event.data.object as Stripe.PaymentMethod).id;
    ours = await findAccountMirrorByDefaultMethod(ctx.db, methodId);
    if (!ours) return { kind: 'skipped', reason: 'not a default' };
  } else return undefined;
  const customerId = ours?.stripe_customer_id;
  if (!ours || !customerId) return { kind: 'skipped', reason: 'not an Annex customer' };
  if (intent) {
    const methodId = typeof intent.payment_method === 'string' ? intent.payment_method : intent.payment_method?.id;
    if (!methodId) return { kind: 'skipped', reason: 'no payment method' };
    // A late delivery (Stripe retries for days) must not replace another card made the
    // default since the intent succeeded (the event's time, kept across retries; whole
    // seconds, so only a change in a later second counts). A removal since does not count.
    const changed = ours.payment_method_changed_at;
    const replaced = ours.default_payment_method !== null && ours.default_payment_method !== methodId;
    if (replaced && changed && changed.getTime() >= (event.created + 1) * 1000) {
      return { kind: 'skipped', reason: 'another default payment method was set after this SetupIntent succeeded' };
    }
    await stripe.customers.update(customerId, { invoice_settings: { default_payment_method: methodId } });
  }
  // Every mirror is of the customer as read now (a detach included: Stripe may already hold
  // another default), stamped with when the read began.
  const observed = await observeDefaultPaymentMethod(ctx, customerId);
  return observed
    ? { kind: 'observed', customerId, ...observed }
    : { kind: 'skipped', reason: 'the customer is deleted in Stripe' };
}

async function ourInvoice(trx: Executor, invoice: Stripe.Invoice): Promise<InvoiceRow | undefined> {
  const annexId = invoice.metadata?.annex_invoice;
  return annexId ? lockInvoice(trx, annexId) : lockInvoiceByStripeId(trx, String(invoice.id ?? ''));
}

async function applyEvent(trx: Executor, event: Stripe.Event, observed: Observed | undefined): Promise<string> {
  const at = new Date(event.created * 1000);
  switch (event.type) {
    case 'invoice.paid':
    case 'invoice.payment_succeeded': {
      const row = await ourInvoice(trx, event.data.object as Stripe.Invoice);
      if (!row) return 'ignored: not an Annex invoice';
      if (row.state === 'paid') return 'ignored: already paid';
      await markInvoicePaid(trx, row.id, at, row.stripe_invoice_id ?? String((event.data.object as Stripe.Invoice).id));
      const restored = await restoreIfSettled(trx, row.organization_id);
      return `applied: paid${restored ? `, ${restored} add-ons restored` : ''}`;
    }
    case 'invoice.payment_failed': {
      const row = await ourInvoice(trx, event.data.object as Stripe.Invoice);
      if (!row) return 'ignored: not an Annex invoice';
      // Paid is terminal: a failure reported after (or delivered after) the payment changes nothing.
      if (row.state === 'paid') return 'ignored: already paid';
      await markInvoicePaymentFailed(trx, row.id, at);
      await markPastDue(trx, row.organization_id, at);
      return 'applied: payment failed, account past due';
    }
    case 'setup_intent.succeeded':
    case 'checkout.session.completed':
    case 'customer.updated':
    case 'payment_method.detached': {
      // A card set up in the console, a default changed or a card removed in Stripe's
      // dashboard: mirror the customer's default as it was read after the event.
      if (!observed || observed.kind === 'skipped') return `ignored: ${observed?.reason ?? 'billing is ledger-only'}`;
      const mirrored = await recordPaymentMethod(trx, observed.customerId, observed.card, observed.readAt);
      if (event.type === 'setup_intent.succeeded' || event.type === 'checkout.session.completed') {
        return mirrorOutcome(mirrored, 'default payment method set');
      }
      return mirrorOutcome(
        mirrored,
        observed.card ? 'default payment method mirrored' : 'default payment method removed',
      );
    }
    default:
      return `ignored: ${event.type} is not used`;
  }
}

function mirrorOutcome(outcome: MirrorOutcome, applied: string): string {
  if (outcome === 'applied') return `applied: ${applied}`;
  if (outcome === 'stale') return 'ignored: a later read of the customer is already mirrored';
  return 'ignored: unknown customer';
}
