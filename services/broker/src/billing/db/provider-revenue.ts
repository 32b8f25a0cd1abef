import { sql } from 'kysely';
import type { Executor } from '../../shared/db/executor.js';

/**
 * The provider's invoice lines summed per month and currency, as invoicing froze them: all
 * of them (`gross`), those on invoices paid or ledger-only (`collected`, what payouts count),
 * and of those the ones no payout has counted yet (`unpaid_out`). One statement.
 */
export async function sumProviderInvoiceLines(db: Executor, providerId: string) {
  const rows = await sql<{
    period: string;
    currency: string;
    gross: string;
    collected: string;
    unpaid_out: string;
  }>`
    select i.period, i.currency,
      sum((l->>'cents')::bigint) as gross,
      coalesce(sum((l->>'cents')::bigint) filter (where i.state in ('paid', 'ledger_only')), 0) as collected,
      coalesce(sum((l->>'cents')::bigint)
        filter (where i.state in ('paid', 'ledger_only') and i.paid_out_at is null), 0) as unpaid_out
    from invoices i cross join lateral jsonb_array_elements(i.lines) l
    where l->>'providerId' = ${providerId}
    group by i.period, i.currency`.execute(db);
  return rows.rows.map((r) => ({
    period: r.period,
    currency: r.currency,
    grossCents: Number(r.gross),
    collectedCents: Number(r.collected),
    unpaidOutCents: Number(r.unpaid_out),
  }));
}

/** The provider's payouts, newest month first, each month's in sequence order. */
export async function listProviderPayouts(db: Executor, providerId: string) {
  return db
    .selectFrom('provider_payouts')
    .selectAll()
    .where('provider_id', '=', providerId)
    .orderBy('period', 'desc')
    .orderBy('currency')
    .orderBy('sequence')
    .execute();
}
