import type { Kysely } from 'kysely';
import { executeStatements } from '../migrate.js';

// Metered spend per organization, app and month, kept as usage is stored (docs/billing.md,
// "Spend caps"): the allowance providers ask before serving metered work, and the spend
// alerts, read a few rows instead of summing every usage record of the month.
export async function up(db: Kysely<any>): Promise<void> {
  await executeStatements(
    db,
    `
    create table usage_totals (
      organization_id uuid not null references organizations (id),
      app_id uuid not null,
      period text not null,
      cents numeric not null,
      primary key (organization_id, period, app_id)
    );
    insert into usage_totals (organization_id, app_id, period, cents)
      select organization_id, app_id, to_char(at at time zone 'UTC', 'YYYY-MM'), sum(quantity * unit_price)
      from usage_records
      group by 1, 2, 3;
    `,
  );
}
