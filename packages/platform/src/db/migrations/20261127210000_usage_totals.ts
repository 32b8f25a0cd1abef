import { type Kysely, sql } from 'kysely';
import { executeStatements } from '../migrate.js';

// Metered spend per organization, app and month (docs/billing.md, "Spend caps"): the
// allowance providers ask before serving metered work, and the spend alerts, read a few
// rows instead of summing every usage record of the month. A statement trigger keeps the
// totals with the records, whoever inserts them (during a rolling deploy, replicas still
// on the previous version too), in the same statement.
export async function up(db: Kysely<any>): Promise<void> {
  await executeStatements(
    db,
    `
    -- No usage stored while the totals are being filled and the trigger put in place.
    lock table usage_records in share row exclusive mode;
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
  // Rows in key order: two batches adding to the same totals lock them in the same order.
  await sql`
    create function usage_totals_add() returns trigger language plpgsql as $$
    begin
      insert into usage_totals (organization_id, app_id, period, cents)
        select organization_id, app_id, to_char(at at time zone 'UTC', 'YYYY-MM'), sum(quantity * unit_price)
        from stored
        group by 1, 2, 3
        order by 1, 3, 2
        on conflict (organization_id, period, app_id) do update set cents = usage_totals.cents + excluded.cents;
      return null;
    end $$
  `.execute(db);
  await sql`
    create trigger usage_totals_add after insert on usage_records
    referencing new table as stored
    for each statement execute function usage_totals_add()
  `.execute(db);
}
