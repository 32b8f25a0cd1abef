import type { Kysely } from 'kysely';
import { executeStatements } from '../migrate.js';

// The billing page shows the default card's expiry beside its brand and last digits: the
// ledger mirrors it from Stripe with them (null until the next mirror of an older card).
export async function up(db: Kysely<any>): Promise<void> {
  await executeStatements(
    db,
    `alter table billing_accounts
       add column payment_method_exp_month smallint,
       add column payment_method_exp_year smallint`,
  );
}
