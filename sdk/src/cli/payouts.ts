import { type CatalogTarget, catalogRequest } from './catalog-request.js';
import { CliError, EXIT_CODES } from './exit-codes.js';
import { table } from './installs.js';
import type { CliIo } from './io.js';

/**
 * The provider's money per month as the catalog serves it (`Provider.revenue`).
 *
 * @example
 * await fetch(catalogUrl, { method: 'POST', body: JSON.stringify({ query: PAYOUTS_QUERY, variables: { provider, months: 12 } }) });
 */
export const PAYOUTS_QUERY =
  'query Payouts($provider: String!, $months: Int) { provider(slug: $provider) { revenue(months: $months) { mode revenueShare months { period currency grossCents collectedCents shareCents adjustmentsCents unpaidOutCents payouts { id sequence grossCents revenueShare amountCents state stripeTransfer createdAt paidAt } } } } }';

interface PayoutsAnswer {
  provider: {
    revenue: {
      mode: string;
      revenueShare: number;
      months: {
        period: string;
        currency: string;
        grossCents: number;
        collectedCents: number;
        shareCents: number;
        adjustmentsCents: number;
        unpaidOutCents: number;
        payouts: {
          id: string;
          sequence: number;
          grossCents: number;
          revenueShare: number;
          amountCents: number;
          state: string;
          stripeTransfer: string | null;
          createdAt: string;
          paidAt: string | null;
        }[];
      }[];
    } | null;
  } | null;
}

const money = (cents: number, currency: string) => `${(cents / 100).toFixed(2)} ${currency.toUpperCase()}`;

/**
 * `annex-provider payouts --provider SLUG [--months N] [--json]`: per month, gross revenue, the
 * provider's share, adjustments, and each payout with its Stripe transfer state.
 */
export async function payoutsCommand(
  io: CliIo,
  target: CatalogTarget,
  options: { provider: string; months: number; json: boolean },
): Promise<number> {
  const data = await catalogRequest<PayoutsAnswer>(target, PAYOUTS_QUERY, {
    provider: options.provider,
    months: options.months,
  });
  if (!data.provider) throw new CliError(`no provider ${options.provider} you can see`, EXIT_CODES.refused);
  const revenue = data.provider.revenue;
  if (!revenue) throw new CliError('the catalog answered no revenue', EXIT_CODES.refused);
  if (options.json) {
    io.stdout(JSON.stringify({ provider: options.provider, ...revenue }, null, 2));
    return EXIT_CODES.ok;
  }
  io.stdout(
    `${options.provider}: share ${Math.round(revenue.revenueShare * 1000) / 10}%${revenue.mode === 'ledger-only' ? ' (ledger-only: payouts show what would be paid; nothing is transferred)' : ''}`,
  );
  if (revenue.months.length === 0) {
    io.stdout('no invoiced revenue yet');
    return EXIT_CODES.ok;
  }
  for (const line of table(
    ['MONTH', 'GROSS', 'COLLECTED', 'SHARE', 'ADJUSTMENTS', 'NOT YET PAID OUT'],
    revenue.months.map((m) => [
      m.period,
      money(m.grossCents, m.currency),
      money(m.collectedCents, m.currency),
      money(m.shareCents, m.currency),
      money(m.adjustmentsCents, m.currency),
      money(m.unpaidOutCents, m.currency),
    ]),
  ))
    io.stdout(line);
  const payouts = revenue.months.flatMap((m) =>
    m.payouts.map((p) => ({ ...p, period: m.period, currency: m.currency })),
  );
  if (payouts.length > 0) {
    io.stdout('');
    for (const line of table(
      ['PAYOUT', 'MONTH', '#', 'AMOUNT', 'STATE', 'STRIPE TRANSFER', 'PAID'],
      payouts.map((p) => [
        p.id.slice(0, 8),
        p.period,
        String(p.sequence),
        money(p.amountCents, p.currency),
        p.state,
        p.stripeTransfer ?? '-',
        p.paidAt?.slice(0, 10) ?? '-',
      ]),
    ))
      io.stdout(line);
  }
  return EXIT_CODES.ok;
}
