import type { ProviderRevenue, RevenueMonth } from '@annex/contracts/v1';
import type { BrokerContext } from '../../shared/domain/context.js';
import { listProviderPayouts, sumProviderInvoiceLines } from '../db/provider-revenue.js';
import { findRevenueShare } from '../db/providers.js';
import { revenueShareOf } from './payouts.js';

// A provider's money (docs/provider-portal.md, "Money"): nothing is computed again here. The
// gross is the invoice lines invoicing froze, the share and adjustments are the payout rows
// the payouts run made, so what the provider sees is what it is (or would be) paid.

/** The provider's months, newest first: at most `months` of them. */
export async function providerRevenue(
  ctx: BrokerContext,
  provider: { id: string; slug: string },
  months: number,
): Promise<ProviderRevenue> {
  const [lines, payouts, settings] = await Promise.all([
    sumProviderInvoiceLines(ctx.db, provider.id),
    listProviderPayouts(ctx.db, provider.id),
    findRevenueShare(ctx.db, provider.id),
  ]);
  const byMonth = new Map<string, RevenueMonth>();
  const monthOf = (period: string, currency: string) => {
    const key = `${period} ${currency}`;
    let month = byMonth.get(key);
    if (!month) {
      month = {
        period,
        currency,
        grossCents: 0,
        collectedCents: 0,
        shareCents: 0,
        adjustmentsCents: 0,
        unpaidOutCents: 0,
        payouts: [],
      };
      byMonth.set(key, month);
    }
    return month;
  };
  for (const line of lines) {
    const month = monthOf(line.period, line.currency);
    month.grossCents = line.grossCents;
    month.collectedCents = line.collectedCents;
    month.unpaidOutCents = line.unpaidOutCents;
  }
  for (const payout of payouts) {
    const month = monthOf(payout.period, payout.currency);
    month.shareCents += payout.amount_cents;
    if (payout.sequence > 1) month.adjustmentsCents += payout.amount_cents;
    month.payouts.push({
      id: payout.id,
      period: payout.period,
      currency: payout.currency,
      sequence: payout.sequence,
      grossCents: payout.gross_cents,
      revenueShare: Number(payout.revenue_share),
      amountCents: payout.amount_cents,
      state: payout.state,
      stripeTransfer: payout.stripe_transfer_id,
      createdAt: payout.created_at.toISOString(),
      paidAt: payout.paid_at?.toISOString() ?? null,
    });
  }
  const sorted = [...byMonth.values()].sort(
    (a, b) => b.period.localeCompare(a.period) || a.currency.localeCompare(b.currency),
  );
  const periods = [...new Set(sorted.map((m) => m.period))].slice(0, months);
  return {
    provider: provider.slug,
    mode: ctx.billing.mode,
    revenueShare: revenueShareOf(ctx.billing, settings),
    months: sorted.filter((m) => periods.includes(m.period)),
  };
}
