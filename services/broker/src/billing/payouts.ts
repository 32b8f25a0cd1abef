import { sql } from 'kysely';
import type { BrokerContext } from '../domain/context.js';

export interface PayoutReport {
  period: string;
  /** Invoices of the period still being collected (draft or open): no payout is computed until they settle. */
  waitingFor: number;
  payouts: { provider: string; currency: string; grossCents: number; amountCents: number; state: string }[];
  transfers: number;
}

/**
 * Pays each provider its share of the period's paid (or ledger-only) invoice lines of its
 * add-ons. One row per provider, month and currency; the transfer's idempotency key is the
 * row's id, and a paid row is never paid again. Rows are computed only once no invoice of
 * the period is still being collected (draft or open): computed earlier, right after
 * invoicing, they would freeze at what was paid by then — nothing, with Stripe on.
 */
export async function runPayouts(ctx: BrokerContext, period: string): Promise<PayoutReport> {
  const billing = ctx.billing;
  const collecting = await ctx.db
    .selectFrom('invoices')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('period', '=', period)
    .where('state', 'in', ['draft', 'open'])
    .executeTakeFirstOrThrow();
  const waitingFor = Number(collecting.n);
  const invoices =
    waitingFor > 0
      ? []
      : await ctx.db
          .selectFrom('invoices')
          .select(['lines', 'currency'])
          .where('period', '=', period)
          .where('state', 'in', ['paid', 'ledger_only'])
          .execute();
  const gross = new Map<string, { providerId: string; currency: string; cents: number }>();
  for (const invoice of invoices) {
    for (const line of invoice.lines) {
      const key = `${line.providerId}:${invoice.currency}`;
      const entry = gross.get(key) ?? { providerId: line.providerId, currency: invoice.currency, cents: 0 };
      entry.cents += line.cents;
      gross.set(key, entry);
    }
  }
  for (const { providerId, currency, cents } of gross.values()) {
    const settings = await ctx.db
      .selectFrom('provider_billing')
      .select(['revenue_share'])
      .where('provider_id', '=', providerId)
      .executeTakeFirst();
    const share =
      settings?.revenue_share === null || settings === undefined
        ? billing.defaultRevenueShare
        : Number(settings.revenue_share);
    const amount = Math.floor(cents * share);
    await ctx.db
      .insertInto('provider_payouts')
      .values({
        provider_id: providerId,
        period,
        currency,
        gross_cents: cents,
        revenue_share: share,
        amount_cents: amount,
        state: amount === 0 ? 'nothing_due' : billing.mode === 'ledger-only' ? 'ledger_only' : 'pending',
      })
      .onConflict((oc) => oc.columns(['provider_id', 'period', 'currency']).doNothing())
      .execute();
  }
  let transfers = 0;
  if (billing.stripe) {
    const due = await ctx.db
      .selectFrom('provider_payouts as o')
      .leftJoin('provider_billing as b', 'b.provider_id', 'o.provider_id')
      .select(['o.id', 'o.provider_id', 'o.amount_cents', 'o.currency', 'o.period', 'b.stripe_account_id'])
      .where('o.period', '=', period)
      .where('o.state', 'in', ['pending', 'no_account'])
      .execute();
    for (const payout of due) {
      if (!payout.stripe_account_id) {
        await ctx.db.updateTable('provider_payouts').set({ state: 'no_account' }).where('id', '=', payout.id).execute();
        continue;
      }
      const transfer = await billing.stripe.transfers.create(
        {
          amount: payout.amount_cents,
          currency: payout.currency,
          destination: payout.stripe_account_id,
          transfer_group: `annex-${payout.period}`,
          metadata: { annex_payout: payout.id, annex_period: payout.period },
        },
        { idempotencyKey: `annex-payout-${payout.id}` },
      );
      const result = await ctx.db
        .updateTable('provider_payouts')
        .set({ state: 'paid', stripe_transfer_id: transfer.id, paid_at: sql`now()` })
        .where('id', '=', payout.id)
        .where('state', '!=', 'paid')
        .executeTakeFirst();
      if (Number(result.numUpdatedRows)) transfers++;
    }
  }
  const rows = await ctx.db
    .selectFrom('provider_payouts as o')
    .innerJoin('providers as p', 'p.id', 'o.provider_id')
    .select(['p.slug', 'o.currency', 'o.gross_cents', 'o.amount_cents', 'o.state'])
    .where('o.period', '=', period)
    .orderBy('p.slug')
    .execute();
  return {
    period,
    waitingFor,
    transfers,
    payouts: rows.map((r) => ({
      provider: r.slug,
      currency: r.currency,
      grossCents: r.gross_cents,
      amountCents: r.amount_cents,
      state: r.state,
    })),
  };
}
