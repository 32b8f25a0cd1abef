import type { InvoicesTable } from '@annex/platform';
import { type Insertable, type Selectable, sql } from 'kysely';
import type { Executor } from '../../shared/db/executor.js';

export type InvoiceRow = Selectable<InvoicesTable>;
export type NewInvoice = Insertable<InvoicesTable>;

/**
 * The orgs with ledger entries (intervals or usage) in [start, end) that have no invoice
 * of `period` yet.
 */
export async function listOrganizationsToInvoice(
  db: Executor,
  period: string,
  start: Date,
  end: Date,
): Promise<{ organization_id: string }[]> {
  return db
    .selectFrom((eb) =>
      eb
        .selectFrom('usage_intervals')
        .select('organization_id')
        .where('started_at', '<', end)
        .where((w) => w.or([w('ended_at', 'is', null), w('ended_at', '>', start)]))
        .union(eb.selectFrom('usage_records').select('organization_id').where('at', '>=', start).where('at', '<', end))
        .as('used'),
    )
    .select('used.organization_id')
    .where((eb) =>
      eb.not(
        eb.exists(
          eb
            .selectFrom('invoices')
            .select('invoices.id')
            .whereRef('invoices.organization_id', '=', 'used.organization_id')
            .where('invoices.period', '=', period),
        ),
      ),
    )
    .execute();
}

export async function listDraftInvoices(db: Executor, period: string): Promise<InvoiceRow[]> {
  return db.selectFrom('invoices').selectAll().where('period', '=', period).where('state', '=', 'draft').execute();
}

export async function listInvoicesOfPeriod(db: Executor, period: string): Promise<InvoiceRow[]> {
  return db.selectFrom('invoices').selectAll().where('period', '=', period).execute();
}

/** The org's invoices, latest month first, at most `limit`. */
export async function listInvoicesOfOrganization(
  db: Executor,
  organizationId: string,
  limit: number,
): Promise<InvoiceRow[]> {
  return db
    .selectFrom('invoices')
    .selectAll()
    .where('organization_id', '=', organizationId)
    .orderBy('period', 'desc')
    .orderBy('currency')
    .limit(limit)
    .execute();
}

export async function findInvoice(db: Executor, id: string): Promise<InvoiceRow | undefined> {
  return db.selectFrom('invoices').selectAll().where('id', '=', id).executeTakeFirst();
}

/** The invoice with this id, locked. */
export async function lockInvoice(db: Executor, id: string): Promise<InvoiceRow | undefined> {
  return db.selectFrom('invoices').selectAll().forUpdate().where('id', '=', id).executeTakeFirst();
}

/** The invoice sent to Stripe as this Stripe invoice, locked. */
export async function lockInvoiceByStripeId(db: Executor, stripeInvoiceId: string): Promise<InvoiceRow | undefined> {
  return db
    .selectFrom('invoices')
    .selectAll()
    .forUpdate()
    .where('stripe_invoice_id', '=', stripeInvoiceId)
    .executeTakeFirst();
}

/** Any invoice of the org for the month. */
export async function findInvoiceOfMonth(
  db: Executor,
  organizationId: string,
  period: string,
): Promise<{ id: string } | undefined> {
  return db
    .selectFrom('invoices')
    .select('id')
    .where('organization_id', '=', organizationId)
    .where('period', '=', period)
    .executeTakeFirst();
}

/** Which of these org-months have an invoice. */
export async function listInvoicedMonths(
  db: Executor,
  months: readonly { organizationId: string; period: string }[],
): Promise<{ organization_id: string; period: string }[]> {
  return db
    .selectFrom('invoices')
    .select(['organization_id', 'period'])
    .where((eb) =>
      eb.or(months.map((m) => eb.and([eb('organization_id', '=', m.organizationId), eb('period', '=', m.period)]))),
    )
    .execute();
}

/** Stores an invoice unless the org has one for the month and currency; returns whether it did. */
export async function insertInvoiceIfAbsent(db: Executor, invoice: NewInvoice): Promise<boolean> {
  const inserted = await db
    .insertInto('invoices')
    .values(invoice)
    .onConflict((oc) => oc.columns(['organization_id', 'period', 'currency']).doNothing())
    .returning('id')
    .executeTakeFirst();
  return inserted !== undefined;
}

/** Any invoice of the org whose payment failed (and is not paid since). */
export async function findPaymentFailedInvoice(
  db: Executor,
  organizationId: string,
): Promise<{ id: string } | undefined> {
  return db
    .selectFrom('invoices')
    .select('id')
    .where('organization_id', '=', organizationId)
    .where('state', '=', 'payment_failed')
    .executeTakeFirst();
}

/** Records a draft's push to Stripe; nothing when it is no longer a draft. */
export async function markDraftFinalized(
  db: Executor,
  id: string,
  finalized: {
    state: 'open' | 'paid';
    stripe_invoice_id: string;
    finalized_at: Date;
    paid_at: Date | null;
  },
): Promise<void> {
  await db
    .updateTable('invoices')
    .set({ ...finalized, updated_at: sql`now()` })
    .where('id', '=', id)
    .where('state', '=', 'draft')
    .execute();
}

export async function markInvoicePaid(db: Executor, id: string, paidAt: Date, stripeInvoiceId: string): Promise<void> {
  await db
    .updateTable('invoices')
    .set({ state: 'paid', paid_at: paidAt, stripe_invoice_id: stripeInvoiceId, updated_at: sql`now()` })
    .where('id', '=', id)
    .execute();
}

/** Payment failed, since the earliest failure reported. */
export async function markInvoicePaymentFailed(db: Executor, id: string, failedAt: Date): Promise<void> {
  await db
    .updateTable('invoices')
    .set({
      state: 'payment_failed',
      failed_at: sql`least(coalesce(failed_at, ${failedAt}), ${failedAt})`,
      updated_at: sql`now()`,
    })
    .where('id', '=', id)
    .execute();
}

/** How many invoices of the month are still being collected (draft or open). */
export async function countInvoicesBeingCollected(db: Executor, period: string): Promise<number> {
  const collecting = await db
    .selectFrom('invoices')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('period', '=', period)
    .where('state', 'in', ['draft', 'open'])
    .executeTakeFirstOrThrow();
  return Number(collecting.n);
}

/**
 * The paid (or ledger-only) invoices no payout has counted, of months before `period` (and
 * of `period` itself when `includePeriod`), oldest month first, locked.
 */
export async function lockInvoicesToPayOut(
  db: Executor,
  period: string,
  includePeriod: boolean,
): Promise<Pick<InvoiceRow, 'id' | 'period' | 'currency' | 'lines'>[]> {
  return db
    .selectFrom('invoices')
    .select(['id', 'period', 'currency', 'lines'])
    .where('state', 'in', ['paid', 'ledger_only'])
    .where('paid_out_at', 'is', null)
    .where('period', includePeriod ? '<=' : '<', period)
    .orderBy('period')
    .forUpdate()
    .execute();
}

export async function markInvoicesPaidOut(db: Executor, ids: readonly string[], at: Date): Promise<void> {
  await db
    .updateTable('invoices')
    .set({ paid_out_at: at })
    .where('id', 'in', [...ids])
    .execute();
}
