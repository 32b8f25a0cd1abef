import { type Kysely, sql } from 'kysely';
import { executeStatements } from '../migrate.js';

// Two mirrors that could drift from what they mirror (docs/billing.md):
// - usage_totals followed inserts into usage_records only. A record an operator deletes
//   or corrects by hand (a refund, a provider's mistaken report) now moves the month's
//   totals too, in the same statement, so allowances and spend alerts read the ledger.
// - billing_accounts' payment method, mirrored from Stripe by webhooks that replicas may
//   handle at once: each mirror states when its read of Stripe began, and a read that
//   began earlier than the one stored is not applied; and when the default last changed,
//   so a SetupIntent delivered late does not replace a card set after it (docs/billing.md).
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create function usage_totals_change() returns trigger language plpgsql as $$
    begin
      -- Rows in key order, as usage_totals_add does: concurrent statements lock the
      -- same totals in the same order.
      if tg_op = 'DELETE' then
        insert into usage_totals (organization_id, app_id, period, cents)
          select organization_id, app_id, to_char(at at time zone 'UTC', 'YYYY-MM'), -sum(quantity * unit_price)
          from removed
          group by 1, 2, 3
          order by 1, 3, 2
          on conflict (organization_id, period, app_id) do update set cents = usage_totals.cents + excluded.cents;
      else
        insert into usage_totals (organization_id, app_id, period, cents)
          select organization_id, app_id, period, sum(cents)
          from (
            select organization_id, app_id, to_char(at at time zone 'UTC', 'YYYY-MM') as period,
                   -(quantity * unit_price) as cents
            from removed
            union all
            select organization_id, app_id, to_char(at at time zone 'UTC', 'YYYY-MM'), quantity * unit_price
            from stored
          ) changes
          group by 1, 2, 3
          order by 1, 3, 2
          on conflict (organization_id, period, app_id) do update set cents = usage_totals.cents + excluded.cents;
      end if;
      return null;
    end $$
  `.execute(db);
  await executeStatements(
    db,
    `
    create trigger usage_totals_remove after delete on usage_records
      referencing old table as removed
      for each statement execute function usage_totals_change();
    create trigger usage_totals_update after update on usage_records
      referencing old table as removed new table as stored
      for each statement execute function usage_totals_change();
    alter table billing_accounts add column payment_method_read_at timestamptz;
    alter table billing_accounts add column payment_method_changed_at timestamptz;
    `,
  );
}
