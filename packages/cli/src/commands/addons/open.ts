import { defineCommand } from '../../command.js';
import { APP_FLAG } from '../../flags.js';
import { ErrorFields, graphql, InvalidInputFields, mutate } from '../../graphql.js';

const OPEN_ADDON_DASHBOARD = graphql(
  `
  mutation OpenAddonDashboard($input: OpenAddonDashboardInput!) {
    openAddonDashboard(input: $input) {
      __typename ... on OpenAddonDashboardSuccess { url expiresAt } ...ErrorFields ...InvalidInputFields
    }
  }
`,
  [ErrorFields, InvalidInputFields],
);

export default defineCommand({
  id: 'addons:open',
  summary: "open an add-on's dashboard at its provider in a browser, signed in by single sign-on",
  description: [
    'The catalog hands out a single-use URL that signs you in (as the token’s user) and expires',
    'within minutes. It is printed instead of opened with --no-browser or --json, and where no',
    'browser can be opened (no terminal, or no graphical session).',
  ].join('\n'),
  args: { ADDON: { description: "the add-on's name, such as postgres-amber-4172" } },
  flags: {
    app: { ...APP_FLAG, description: 'the app to open it for, one it is attached to (its owner app by default)' },
    'no-browser': { type: 'boolean', description: 'print the URL instead of opening a browser' },
  },
  examples: ['addons:open postgres-amber-4172', 'addons:open postgres-amber-4172 --app worker --no-browser'],
  async run(ctx) {
    const addon = ctx.args.ADDON;
    const { url, expiresAt } = await mutate(
      ctx,
      OPEN_ADDON_DASHBOARD,
      { input: { addon, app: ctx.flags.app ?? null } },
      'openAddonDashboard',
      'OpenAddonDashboardSuccess',
    );
    if (ctx.json) return ctx.printJson({ url, expiresAt });
    if (!ctx.flags['no-browser'] && ctx.openUrl && (await ctx.openUrl(url))) {
      ctx.print(`Opening the dashboard of ${addon} in your browser.`);
      return;
    }
    ctx.print(`Open the dashboard of ${addon} at this URL (single use, until ${expiresAt}):\n${url}`);
  },
});
