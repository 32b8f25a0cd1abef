import type { Kysely } from 'kysely';
import { executeStatements } from '../migrate.js';

// Payouts per invoice (docs/billing.md, "Payouts"): an invoice is paid out once, whenever
// it is paid, so one that failed and was paid later, or a month whose invoices stayed open
// past the next month, still reaches its providers, as a further payout of its month.
export async function up(db: Kysely<any>): Promise<void> {
  await executeStatements(
    db,
    `
    alter table invoices add column paid_out_at timestamptz;
    alter table provider_payouts add column sequence integer not null default 1;
    alter table provider_payouts add column invoice_ids uuid[] not null default '{}';
    alter table provider_payouts drop constraint provider_payouts_provider_id_period_currency_key;
    alter table provider_payouts add constraint provider_payouts_provider_period_currency_sequence_key
      unique (provider_id, period, currency, sequence);
    -- Invoices that payouts computed before this migration counted: settled by then.
    update invoices set paid_out_at = payouts.computed_at
    from (select period, min(created_at) as computed_at from provider_payouts group by period) as payouts
    where invoices.period = payouts.period
      and invoices.state in ('paid', 'ledger_only')
      and coalesce(invoices.paid_at, invoices.created_at) <= payouts.computed_at;
    create index invoices_to_pay_out on invoices (period) where paid_out_at is null and state in ('paid', 'ledger_only');
    `,
  );
}
