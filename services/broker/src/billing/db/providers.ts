import type { ProviderBillingTable, ProvidersTable } from '@annex/platform';
import type { Selectable, Updateable } from 'kysely';
import type { Executor } from '../../shared/db/executor.js';

// Providers as billing sees them: their payout settings (provider_billing).

export type ProviderBillingRow = Selectable<ProviderBillingTable>;
export type ProviderBillingChanges = Pick<Updateable<ProviderBillingTable>, 'revenue_share' | 'stripe_account_id'>;

/** A provider by id, or by slug when `by` says so. */
export async function findProviderBy(
  db: Executor,
  by: 'id' | 'slug',
  ref: string,
): Promise<Pick<Selectable<ProvidersTable>, 'id' | 'slug'> | undefined> {
  return db.selectFrom('providers').select(['id', 'slug']).where(by, '=', ref).executeTakeFirst();
}

/** The provider's revenue share setting, if it has settings. */
export async function findRevenueShare(
  db: Executor,
  providerId: string,
): Promise<Pick<ProviderBillingRow, 'revenue_share'> | undefined> {
  return db
    .selectFrom('provider_billing')
    .select(['revenue_share'])
    .where('provider_id', '=', providerId)
    .executeTakeFirst();
}

/** Creates the provider's settings with `changes`, or applies them to the existing ones. */
export async function upsertProviderBilling(
  db: Executor,
  providerId: string,
  changes: ProviderBillingChanges,
): Promise<void> {
  await db
    .insertInto('provider_billing')
    .values({ provider_id: providerId, ...changes })
    .onConflict((oc) =>
      Object.keys(changes).length
        ? oc.column('provider_id').doUpdateSet(changes)
        : oc.column('provider_id').doNothing(),
    )
    .execute();
}

/** The provider's settings; throws when it has none. */
export async function getProviderBilling(db: Executor, providerId: string): Promise<ProviderBillingRow> {
  return db.selectFrom('provider_billing').selectAll().where('provider_id', '=', providerId).executeTakeFirstOrThrow();
}
