import type { ProviderPayoutsTable } from '@annex/platform';
import { type Insertable, type Selectable, sql } from 'kysely';
import type { Executor } from '../../shared/db/executor.js';

export type PayoutRow = Selectable<ProviderPayoutsTable>;
export type NewPayout = Insertable<ProviderPayoutsTable>;

/** The highest sequence of the provider's payouts of a month and currency (null: none yet). */
export async function lastPayoutSequence(db: Executor, providerId: string, period: string, currency: string) {
  const previous = await db
    .selectFrom('provider_payouts')
    .select((eb) => eb.fn.max('sequence').as('sequence'))
    .where('provider_id', '=', providerId)
    .where('period', '=', period)
    .where('currency', '=', currency)
    .executeTakeFirst();
  return previous?.sequence;
}

export async function insertPayout(db: Executor, payout: NewPayout): Promise<void> {
  await db.insertInto('provider_payouts').values(payout).execute();
}

/**
 * The payouts still to transfer (pending, or waiting for the provider's account), oldest
 * first, with the provider's slug and Stripe account.
 */
export async function listPayoutsToTransfer(db: Executor) {
  return db
    .selectFrom('provider_payouts as o')
    .leftJoin('provider_billing as b', 'b.provider_id', 'o.provider_id')
    .innerJoin('providers as p', 'p.id', 'o.provider_id')
    .select([
      'p.slug',
      'o.id',
      'o.provider_id',
      'o.amount_cents',
      'o.currency',
      'o.period',
      'o.sequence',
      'b.stripe_account_id',
    ])
    .where('o.state', 'in', ['pending', 'no_account'])
    .orderBy('o.period')
    .orderBy('o.sequence')
    .execute();
}

export async function markPayoutNoAccount(db: Executor, id: string): Promise<void> {
  await db.updateTable('provider_payouts').set({ state: 'no_account' }).where('id', '=', id).execute();
}

/** Records the payout's transfer unless it is paid already; returns whether it did. */
export async function markPayoutPaid(db: Executor, id: string, transferId: string): Promise<boolean> {
  const result = await db
    .updateTable('provider_payouts')
    .set({ state: 'paid', stripe_transfer_id: transferId, paid_at: sql`now()` })
    .where('id', '=', id)
    .where('state', '!=', 'paid')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** The month's payouts with their provider's slug, by provider, currency and sequence. */
export async function listPayoutsOfPeriod(db: Executor, period: string) {
  return db
    .selectFrom('provider_payouts as o')
    .innerJoin('providers as p', 'p.id', 'o.provider_id')
    .select(['p.slug', 'o.currency', 'o.sequence', 'o.gross_cents', 'o.amount_cents', 'o.state'])
    .where('o.period', '=', period)
    .orderBy('p.slug')
    .orderBy('o.currency')
    .orderBy('o.sequence')
    .execute();
}
