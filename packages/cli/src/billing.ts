import { CliError } from './client.js';
import { type Command, type CommandContext, one } from './context.js';
import { money, table } from './output.js';

// The billing verbs (docs/billing.md): the organization's billing account and its
// invoices, through the catalog's GraphQL API.

interface AccountView {
  organization: string;
  mode: string;
  status: string;
  pastDueSince: string | null;
  graceEndsAt: string | null;
  paymentMethod: { id: string; brand: string | null; last4: string | null } | null;
  spendCaps: { app: string | null; limitCents: number; spentCents: number }[];
  alerts: { app: string | null; threshold: number; month: string; spentCents: number }[];
  currentMonthCents: number;
}

interface InvoiceView {
  id: string;
  period: string;
  state: string;
  totalCents: number;
  currency: string;
  lines: { kind: string; addon: string; app: string; description: string; cents: number }[];
}

const ACCOUNT = `organization mode status pastDueSince graceEndsAt paymentMethod { id brand last4 }
  spendCaps { app limitCents spentCents } alerts { app threshold month spentCents } currentMonthCents`;
const INVOICE = 'id period state totalCents currency lines { kind addon app description cents }';

function noArgs(ctx: CommandContext, usage: string): void {
  if (ctx.args.length > 0) throw new CliError(`unexpected argument "${ctx.args[0]}"; usage: ${usage}`, 2);
}

export const billingCommands: Record<string, Command> = {
  billing: {
    usage: 'annex billing [--org ORG] [--json]',
    summary: "show the organization's billing account: mode, standing, payment method, spend caps",
    async run(ctx) {
      noArgs(ctx, this.usage);
      const organization = one(ctx, 'org', false) ?? null;
      const data = await ctx
        .client()
        .request<{ billingAccount: AccountView }>(
          `query($organization: String) { billingAccount(organization: $organization) { ${ACCOUNT} } }`,
          { organization },
        );
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
  },

  invoices: {
    usage: 'annex invoices [--org ORG] [--json]',
    summary: "list the organization's invoices, newest first, with their lines",
    async run(ctx) {
      noArgs(ctx, this.usage);
      const organization = one(ctx, 'org', false) ?? null;
      const data = await ctx
        .client()
        .request<{ invoices: InvoiceView[] }>(
          `query($organization: String) { invoices(organization: $organization) { ${INVOICE} } }`,
          { organization },
        );
      if (ctx.json) return ctx.printJson(data.invoices);
      if (data.invoices.length === 0) {
        ctx.print('no invoices yet (each calendar month is invoiced after it ends)');
        return;
      }
      ctx.print(
        table(
          data.invoices.map((i) => ({
            period: i.period,
            state: i.state,
            total: money(i.totalCents, i.currency),
            lines: i.lines.length,
          })),
          ['period', 'state', 'total', 'lines'],
        ),
      );
    },
  },
};
