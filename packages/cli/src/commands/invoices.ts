import { defineCommand } from '../command.js';
import { ORG_FLAG } from '../flags.js';
import { graphql } from '../graphql.js';
import { money, table } from '../output.js';

// The organization's invoices (docs/billing.md).

const INVOICES = graphql(`
  query Invoices($organization: String) {
    invoices(organization: $organization) {
      id period state totalCents currency lines { kind addon app description cents }
    }
  }
`);

export default defineCommand({
  id: 'invoices',
  summary: "list the organization's invoices, newest first, with their lines",
  args: {},
  flags: { org: ORG_FLAG },
  examples: ['invoices', 'invoices --json'],
  async run(ctx) {
    const data = await ctx.client().request(INVOICES, { organization: ctx.flags.org ?? null });
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
});
