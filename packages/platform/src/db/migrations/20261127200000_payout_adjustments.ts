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
    -- Invoices that payouts computed before this migration counted. Each provider's row of
    -- a month and currency was made once, counting the invoices the ledger held as paid by
    -- then; an invoice is marked when any provider of its lines had its row made after the
    -- ledger recorded it paid (a provider whose row came before it was not paid for it then,
    -- and is not now either: never pay twice). When the ledger recorded it is updated_at,
    -- set by the transaction that marked it paid (nothing changed a paid invoice after) or,
    -- for invoices paid or ledger-only from the start, at their insert; paid_at is Stripe's
    -- time of the payment, which a webhook delivered days later would put before a payout
    -- that did not count it.
    update invoices set paid_out_at = now()
    where invoices.state in ('paid', 'ledger_only')
      and exists (
        select 1
        from jsonb_array_elements(invoices.lines) as line
        join provider_payouts as payout
          on payout.provider_id::text = line->>'providerId'
         and payout.period = invoices.period
         and payout.currency = invoices.currency
        where payout.created_at >= invoices.updated_at);
    create index invoices_to_pay_out on invoices (period) where paid_out_at is null and state in ('paid', 'ledger_only');
    `,
  );
}
