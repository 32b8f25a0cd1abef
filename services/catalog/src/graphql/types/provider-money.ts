import type { ProviderPayout, ProviderRevenue, RevenueMonth } from '@annex/contracts/v1';
import { builder } from '../builder.js';
import { ProviderRef } from '../refs.js';
import { orGraphQLError } from './app-errors.js';
import { requireProviderAccess } from './provider-access.js';

// A provider's money (docs/provider-portal.md, "Money"), read from the broker with the
// caller's own token: the invoice lines invoicing froze and the payouts the payouts run made.

const PayoutRef = builder.objectRef<ProviderPayout>('ProviderPayout').implement({
  description:
    "One payout to the provider: its share of a month's paid invoices. A month's first has sequence 1; later ones pay invoices paid after it.",
  fields: (t) => ({
    id: t.exposeID('id'),
    period: t.exposeString('period', { description: '`YYYY-MM`: the month whose invoices it pays.' }),
    currency: t.exposeString('currency'),
    sequence: t.exposeInt('sequence'),
    grossCents: t.exposeInt('grossCents', { description: "The provider's lines on the invoices it counts." }),
    revenueShare: t.exposeFloat('revenueShare'),
    amountCents: t.exposeInt('amountCents', { description: 'What the provider is paid (or would be, ledger-only).' }),
    state: t.exposeString('state', {
      description:
        '`pending`, `paid` (transferred: `stripeTransfer`), `no_account` (no Stripe account yet), `ledger_only` (what would be paid), `nothing_due`.',
    }),
    stripeTransfer: t.exposeString('stripeTransfer', { nullable: true }),
    createdAt: t.field({ type: 'DateTime', resolve: (p) => new Date(p.createdAt) }),
    paidAt: t.field({ type: 'DateTime', nullable: true, resolve: (p) => (p.paidAt ? new Date(p.paidAt) : null) }),
  }),
});

const RevenueMonthRef = builder.objectRef<RevenueMonth>('RevenueMonth').implement({
  description: "One month of the provider's money in one currency, as invoicing and payouts computed it.",
  fields: (t) => ({
    period: t.exposeString('period', { description: '`YYYY-MM`.' }),
    currency: t.exposeString('currency'),
    grossCents: t.exposeInt('grossCents', { description: "The provider's lines on the month's invoices." }),
    collectedCents: t.exposeInt('collectedCents', { description: 'Of it, on invoices paid (or ledger-only).' }),
    shareCents: t.exposeInt('shareCents', { description: "The month's payouts together." }),
    adjustmentsCents: t.exposeInt('adjustmentsCents', {
      description: "Of `shareCents`, what payouts after the month's first added.",
    }),
    unpaidOutCents: t.exposeInt('unpaidOutCents', { description: 'Collected, not yet counted by a payout.' }),
    payouts: t.field({ type: [PayoutRef], resolve: (m) => m.payouts }),
  }),
});

const RevenueRef = builder.objectRef<ProviderRevenue>('ProviderRevenue').implement({
  fields: (t) => ({
    mode: t.exposeString('mode', { description: '`stripe`, or `ledger-only` (payouts show what would be paid).' }),
    revenueShare: t.exposeFloat('revenueShare', { description: 'The share the next payout uses (0..1).' }),
    months: t.field({ type: [RevenueMonthRef], description: 'Newest first.', resolve: (r) => r.months }),
  }),
});

builder.objectFields(ProviderRef, (t) => ({
  revenue: t.field({
    type: RevenueRef,
    nullable: true,
    description:
      "The provider's gross revenue, share, adjustments and payouts per month (its last `months` with any, default 12). The provider's token (provider:read) or an admin's.",
    args: { months: t.arg.int({ description: '1-120 (default 12).' }) },
    resolve: (provider, args, ctx) => {
      requireProviderAccess(ctx, provider, 'provider:read');
      return orGraphQLError(() => ctx.broker.providerRevenue(provider.slug, args.months ?? 12));
    },
  }),
  payouts: t.field({
    type: [PayoutRef],
    nullable: true,
    description: "The provider's payouts, newest month first, with their Stripe transfer state. As `revenue`.",
    resolve: (provider, _args, ctx) => {
      requireProviderAccess(ctx, provider, 'provider:read');
      return orGraphQLError(async () =>
        (await ctx.broker.providerRevenue(provider.slug, 120)).months.flatMap((m) => m.payouts),
      );
    },
  }),
}));
