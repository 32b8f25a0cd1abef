import { defineCommand } from '../command.js';
import { ORG_FLAG } from '../flags.js';
import { graphql } from '../graphql.js';
import { money, table } from '../output.js';

// The organization's billing account (docs/billing.md).

const BILLING_ACCOUNT = graphql(`
  query BillingAccount($organization: String) {
    billingAccount(organization: $organization) {
      organization mode status pastDueSince graceEndsAt paymentMethod { id brand last4 }
      spendCaps { app limitCents spentCents } alerts { app threshold month spentCents } currentMonthCents
    }
  }
`);

export default defineCommand({
  id: 'billing',
  summary: "show the organization's billing account: mode, standing, payment method, spend caps",
  args: {},
  flags: { org: ORG_FLAG },
  examples: ['billing', 'billing --org acme --json'],
  async run(ctx) {
    const data = await ctx.client().request(BILLING_ACCOUNT, { organization: ctx.flags.org ?? null });
    const a = data.billingAccount;
    if (ctx.json) return ctx.printJson(a);
    const lines = [
      `organization:   ${a.organization}`,
      `billing:        ${a.mode === 'ledger-only' ? 'ledger-only (invoices are computed, nothing is charged)' : 'Stripe'}`,
      `standing:       ${a.status}${a.graceEndsAt ? ` (grace ends ${a.graceEndsAt})` : ''}`,
      `payment method: ${a.paymentMethod ? `${a.paymentMethod.brand ?? 'card'} •••• ${a.paymentMethod.last4 ?? '????'}` : 'none (paid plans are refused until one is added)'}`,
      `this month:     ${money(a.currentMonthCents, 'usd')}`,
    ];
    if (a.mode === 'ledger-only') lines[3] = 'payment method: not needed (ledger-only)';
    ctx.print(lines.join('\n'));
    if (a.spendCaps.length > 0) {
      ctx.print(
        `\nspend caps (metered usage):\n${table(
          a.spendCaps.map((c) => ({
            scope: c.app ?? '(organization)',
            limit: money(c.limitCents, 'usd'),
            spent: money(c.spentCents, 'usd'),
          })),
          ['scope', 'limit', 'spent'],
        )}`,
      );
    }
    if (a.alerts.length > 0) {
      ctx.print(
        `\nalerts:\n${table(
          a.alerts.map((al) => ({ month: al.month, scope: al.app ?? '(organization)', reached: `${al.threshold}%` })),
          ['month', 'scope', 'reached'],
        )}`,
      );
    }
  },
});
