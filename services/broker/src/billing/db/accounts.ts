import type { BillingAccountsTable } from '@annex/platform';
import { type Selectable, sql } from 'kysely';
import type { Executor } from '../../shared/db/executor.js';

export type AccountRow = Selectable<BillingAccountsTable>;

/** What a mirror of a payment method needs to know about the account it may change. */
export type AccountMirrorRow = Pick<
  AccountRow,
  'organization_id' | 'stripe_customer_id' | 'default_payment_method' | 'payment_method_changed_at'
>;

/** A payment method as the ledger stores it (`null`: none). */
export interface StoredCard {
  id: string;
  brand: string | null;
  last4: string | null;
  expMonth: number | null;
  expYear: number | null;
}

/** Creates the org's account (ledger side only) unless it exists. */
export async function insertAccountIfAbsent(db: Executor, organizationId: string): Promise<void> {
  await db
    .insertInto('billing_accounts')
    .values({ organization_id: organizationId })
    .onConflict((oc) => oc.column('organization_id').doNothing())
    .execute();
}

/** The org's account; throws when there is none. */
export async function getAccount(db: Executor, organizationId: string): Promise<AccountRow> {
  return db
    .selectFrom('billing_accounts')
    .selectAll()
    .where('organization_id', '=', organizationId)
    .executeTakeFirstOrThrow();
}

/** Records the org's Stripe customer, unless one is recorded already. */
export async function setStripeCustomerIfUnset(
  db: Executor,
  organizationId: string,
  customerId: string,
): Promise<void> {
  await db
    .updateTable('billing_accounts')
    .set({ stripe_customer_id: customerId, updated_at: sql`now()` })
    .where('organization_id', '=', organizationId)
    .where('stripe_customer_id', 'is', null)
    .execute();
}

/** The org's default payment method and standing, if it has an account. */
export async function findPaymentStanding(
  db: Executor,
  organizationId: string,
): Promise<Pick<AccountRow, 'default_payment_method' | 'status'> | undefined> {
  return db
    .selectFrom('billing_accounts')
    .select(['default_payment_method', 'status'])
    .where('organization_id', '=', organizationId)
    .executeTakeFirst();
}

/** The org's standing, if it has an account. */
export async function findAccountStatus(
  db: Executor,
  organizationId: string,
): Promise<Pick<AccountRow, 'status'> | undefined> {
  return db
    .selectFrom('billing_accounts')
    .select('status')
    .where('organization_id', '=', organizationId)
    .executeTakeFirst();
}

/**
 * Stores the customer's default payment method as read at `readAt`, unless a read that began
 * later is stored already; returns how many accounts changed (0 or 1).
 */
export async function updatePaymentMethodIfNewer(
  db: Executor,
  customerId: string,
  card: StoredCard | null,
  readAt: Date,
): Promise<number> {
  const result = await db
    .updateTable('billing_accounts')
    .set({
      default_payment_method: card?.id ?? null,
      payment_method_brand: card?.brand ?? null,
      payment_method_last4: card?.last4 ?? null,
      payment_method_exp_month: card?.expMonth ?? null,
      payment_method_exp_year: card?.expYear ?? null,
      payment_method_read_at: readAt,
      // The read that first saw this default: when it changed, as far as the ledger knows.
      payment_method_changed_at: sql`case when default_payment_method is not distinct from ${card?.id ?? null}::text
        then payment_method_changed_at else ${readAt}::timestamptz end`,
      updated_at: sql`now()`,
    })
    .where('stripe_customer_id', '=', customerId)
    .where((eb) => eb.or([eb('payment_method_read_at', 'is', null), eb('payment_method_read_at', '<=', readAt)]))
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** The org whose Stripe customer this is, if any. */
export async function findAccountByCustomer(
  db: Executor,
  customerId: string,
): Promise<Pick<AccountRow, 'organization_id'> | undefined> {
  return db
    .selectFrom('billing_accounts')
    .select('organization_id')
    .where('stripe_customer_id', '=', customerId)
    .executeTakeFirst();
}

function accountMirror(db: Executor) {
  return db
    .selectFrom('billing_accounts')
    .select(['organization_id', 'stripe_customer_id', 'default_payment_method', 'payment_method_changed_at']);
}

/** The payment-method mirror of the account of a Stripe customer, if it is ours. */
export async function findAccountMirrorByCustomer(
  db: Executor,
  customerId: string,
): Promise<AccountMirrorRow | undefined> {
  return accountMirror(db).where('stripe_customer_id', '=', customerId).executeTakeFirst();
}

/** The payment-method mirror of the account whose default payment method this is, if any. */
export async function findAccountMirrorByDefaultMethod(
  db: Executor,
  paymentMethodId: string,
): Promise<AccountMirrorRow | undefined> {
  return accountMirror(db).where('default_payment_method', '=', paymentMethodId).executeTakeFirst();
}

/** Past due from `failedAt` unless earlier (a suspended account stays suspended). */
export async function markAccountPastDue(db: Executor, organizationId: string, failedAt: Date): Promise<void> {
  await db
    .updateTable('billing_accounts')
    .set({
      status: sql`case when status = 'suspended' then 'suspended' else 'past_due' end`,
      past_due_since: sql`least(coalesce(past_due_since, ${failedAt}), ${failedAt})`,
      updated_at: sql`now()`,
    })
    .where('organization_id', '=', organizationId)
    .execute();
}

/** Back to good standing (nothing when it is in good standing already). */
export async function markAccountGood(db: Executor, organizationId: string): Promise<void> {
  await db
    .updateTable('billing_accounts')
    .set({ status: 'good', past_due_since: null, updated_at: sql`now()` })
    .where('organization_id', '=', organizationId)
    .where('status', '!=', 'good')
    .execute();
}

export async function markAccountSuspended(db: Executor, organizationId: string): Promise<void> {
  await db
    .updateTable('billing_accounts')
    .set({ status: 'suspended', updated_at: sql`now()` })
    .where('organization_id', '=', organizationId)
    .execute();
}

/** The accounts past due or suspended. */
export async function listAccountsNotInGoodStanding(
  db: Executor,
): Promise<Pick<AccountRow, 'organization_id' | 'status' | 'past_due_since'>[]> {
  return db
    .selectFrom('billing_accounts')
    .select(['organization_id', 'status', 'past_due_since'])
    .where('status', '!=', 'good')
    .execute();
}
