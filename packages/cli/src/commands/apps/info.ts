import { CliError } from '../../client.js';
import { defineCommand } from '../../command.js';
import { EXIT_CODES } from '../../exit-codes.js';
import { APP_FLAG } from '../../flags.js';
import { graphql } from '../../graphql.js';
import { table } from '../../output.js';
import { AddonFields, AppFields, AttachmentFields, attachedTo, foundApp, lower } from '../../views.js';

const APP_INFO = graphql(
  `
  query AppInfo($name: String!) {
    app(name: $name) { ...AppFields addons { ...AddonFields } attachments { ...AttachmentFields } }
  }
`,
  [AppFields, AddonFields, AttachmentFields],
);

export default defineCommand({
  id: 'apps:info',
  summary: 'an app: its add-ons, attachments and current release',
  args: { APP: { description: 'the app (or --app APP)', optional: true } },
  flags: { app: APP_FLAG },
  examples: ['apps:info --app web', 'apps:info web'],
  async run(ctx) {
    const name = ctx.flags.app ?? ctx.args.APP;
    if (!name) throw new CliError('missing --app APP', EXIT_CODES.usage);
    if (ctx.flags.app && ctx.args.APP && ctx.args.APP !== ctx.flags.app) {
      throw new CliError(`two apps given ("${ctx.args.APP}" and --app ${ctx.flags.app}); name one`, EXIT_CODES.usage);
    }
    const app = foundApp(name, (await ctx.client().request(APP_INFO, { name })).app);
    if (ctx.json) return ctx.printJson(app);
    ctx.print(
      [
        `=== ${app.name}`,
        `organization: ${app.organization}`,
        `release:      v${app.releaseVersion}`,
        `created:      ${app.createdAt}`,
        '',
        'Add-ons owned:',
        table(
          app.addons.map((a) => ({
            addon: a.name,
            plan: `${a.serviceSlug}:${a.planSlug}`,
            state: lower(a.state),
            attached: a.attachments.map((t) => `${attachedTo(t)} as ${t.name}`).join(', '),
          })),
          ['addon', 'plan', 'state', 'attached'],
        ),
        '',
        'Attachments:',
        table(
          app.attachments.map((a) => ({
            as: a.name,
            // Another organization's add-on, shared with this one.
            addon:
              a.addon.organization === app.organization
                ? a.addon.name
                : `${a.addon.name} (shared by ${a.addon.organization})`,
            state: lower(a.state),
            vars: a.configVarNames.join(', '),
          })),
          ['as', 'addon', 'state', 'vars'],
        ),
      ].join('\n'),
    );
  },
});
