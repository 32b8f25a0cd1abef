import { sql } from 'kysely';
import type Stripe from 'stripe';
import { ApiFailure } from '../apps/http.js';
import type { Executor } from '../db/executor.js';
import type { BrokerContext } from '../domain/context.js';
import { type MirroredCard, type MirrorOutcome, recordPaymentMethod, stripeReadBegins } from './accounts.js';
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
  const seen = await ctx.db.selectFrom('stripe_events').select('id').where('id', '=', event.id).executeTakeFirst();
  if (seen) return { received: true as const, duplicate: true, outcome: 'duplicate' };
  // Calls Stripe (makes the card the default, reads it) before the transaction, not inside it.
  const observed = await paymentMethodOf(ctx, event);
  return ctx.db.transaction().execute(async (trx) => {
    const fresh = await trx
      .insertInto('stripe_events')
      .values({ id: event.id, type: event.type, created: new Date(event.created * 1000), outcome: 'received' })
      .onConflict((oc) => oc.column('id').doNothing())
      .returning('id')
      .executeTakeFirst();
    if (!fresh) return { received: true as const, duplicate: true, outcome: 'duplicate' };
    const outcome = await applyEvent(trx, event, observed);
    await trx.updateTable('stripe_events').set({ outcome }).where('id', '=', event.id).execute();
    return { received: true as const, duplicate: false, outcome };
  });
}

/** What an event says of the customer's default payment method, and when its read began. */
interface Observed {
  card: MirroredCard | null;
  readAt: Date;
}

/**
 * The payment method an event is about, read from Stripe: a succeeded SetupIntent's card
 * (made the customer's default here), or — for `customer.updated` — the customer's default
 * as it is now (null when it has none), read afresh so that events delivered out of order
 * still end at Stripe's current state. Undefined when the event carries none.
 */
async function paymentMethodOf(ctx: BrokerContext, event: Stripe.Event): Promise<Observed | undefined> {
  const stripe = ctx.billing.stripe;
  if (event.type === 'customer.updated' && stripe) {
    const id = (event.data.object as Stripe.Customer).id;
    // Stripe sends every customer's updates; only ours are worth reading back.
    const ours = await ctx.db
      .selectFrom('billing_accounts')
      .select('organization_id')
      .where('stripe_customer_id', '=', id)
      .executeTakeFirst();
    if (!ours) return undefined;
    const readAt = await stripeReadBegins(ctx.db);
    const customer = await stripe.customers.retrieve(id);
    if (customer.deleted) return undefined;
    const current = customer.invoice_settings?.default_payment_method;
    const methodId = typeof current === 'string' ? current : current?.id;
    if (!methodId) return { card: null, readAt };
    const method = typeof current === 'string' ? await stripe.paymentMethods.retrieve(methodId) : current;
    return { card: { id: methodId, brand: method?.card?.brand ?? null, last4: method?.card?.last4 ?? null }, readAt };
  }
  if (event.type !== 'setup_intent.succeeded') return undefined;
  const intent = event.data.object as Stripe.SetupIntent;
  const id = typeof intent.payment_method === 'string' ? intent.payment_method : intent.payment_method?.id;
  const customer = typeof intent.customer === 'string' ? intent.customer : intent.customer?.id;
  if (!id || !customer || !stripe) return undefined;
  const readAt = await stripeReadBegins(ctx.db);
  await stripe.customers.update(customer, { invoice_settings: { default_payment_method: id } });
  const method = await stripe.paymentMethods.retrieve(id);
  return { card: { id, brand: method.card?.brand ?? null, last4: method.card?.last4 ?? null }, readAt };
}

async function ourInvoice(trx: Executor, invoice: Stripe.Invoice) {
  const annexId = invoice.metadata?.annex_invoice;
  let query = trx.selectFrom('invoices').selectAll().forUpdate();
  query = annexId ? query.where('id', '=', annexId) : query.where('stripe_invoice_id', '=', String(invoice.id ?? ''));
  return query.executeTakeFirst();
}

async function applyEvent(trx: Executor, event: Stripe.Event, observed: Observed | undefined): Promise<string> {
  const at = new Date(event.created * 1000);
  switch (event.type) {
    case 'invoice.paid':
    case 'invoice.payment_succeeded': {
      const row = await ourInvoice(trx, event.data.object as Stripe.Invoice);
      if (!row) return 'ignored: not an Annex invoice';
      if (row.state === 'paid') return 'ignored: already paid';
      await trx
        .updateTable('invoices')
        .set({
          state: 'paid',
          paid_at: at,
          stripe_invoice_id: row.stripe_invoice_id ?? String((event.data.object as Stripe.Invoice).id),
          updated_at: sql`now()`,
        })
        .where('id', '=', row.id)
        .execute();
      const restored = await restoreIfSettled(trx, row.organization_id);
      return `applied: paid${restored ? `, ${restored} add-ons restored` : ''}`;
    }
    case 'invoice.payment_failed': {
      const row = await ourInvoice(trx, event.data.object as Stripe.Invoice);
      if (!row) return 'ignored: not an Annex invoice';
      // Paid is terminal: a failure reported after (or delivered after) the payment changes nothing.
      if (row.state === 'paid') return 'ignored: already paid';
      await trx
        .updateTable('invoices')
        .set({
          state: 'payment_failed',
          failed_at: sql`least(coalesce(failed_at, ${at}), ${at})`,
          updated_at: sql`now()`,
        })
        .where('id', '=', row.id)
        .execute();
      await markPastDue(trx, row.organization_id, at);
      return 'applied: payment failed, account past due';
    }
    case 'setup_intent.succeeded': {
      const intent = event.data.object as Stripe.SetupIntent;
      const customer = typeof intent.customer === 'string' ? intent.customer : intent.customer?.id;
      if (!observed?.card || !customer) return 'ignored: no payment method or customer';
      const mirrored = await recordPaymentMethod(trx, customer, observed.card, observed.readAt);
      return mirrorOutcome(mirrored, 'default payment method set');
    }
    case 'customer.updated': {
      // Changed in Stripe's dashboard or by Stripe itself: mirror the current default.
      if (observed === undefined) return 'ignored: not an Annex customer, or deleted';
      const customer = (event.data.object as Stripe.Customer).id;
      const mirrored = await recordPaymentMethod(trx, customer, observed.card, observed.readAt);
      return mirrorOutcome(
        mirrored,
        observed.card ? 'default payment method mirrored' : 'default payment method removed',
      );
    }
    case 'payment_method.detached': {
      const method = event.data.object as Stripe.PaymentMethod;
      const result = await trx
        .updateTable('billing_accounts')
        .set({ default_payment_method: null, payment_method_brand: null, payment_method_last4: null })
        .where('default_payment_method', '=', method.id)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) ? 'applied: default payment method removed' : 'ignored: not a default';
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
