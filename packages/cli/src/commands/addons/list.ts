import { defineCommand } from '../../command.js';
import { APP_FLAG } from '../../flags.js';
import { graphql } from '../../graphql.js';
import { table } from '../../output.js';
import { AddonFields, type AddonView, AttachmentFields, fetchAddon, foundApp, lower } from '../../views.js';

const APP_ADDONS = graphql(
  `
  query AppAddons($name: String!) {
    app(name: $name) { addons { ...AddonFields } attachments { ...AttachmentFields } }
  }
`,
  [AddonFields, AttachmentFields],
);
const ALL_ADDONS = graphql('query AllAddons { apps { addons { ...AddonFields } } }', [AddonFields]);

export default defineCommand({
  id: 'addons',
  summary: 'list add-ons: those attached to APP, or those of every app the token can see',
  args: {},
  flags: { app: { ...APP_FLAG, description: 'only the add-ons attached to this app (its own and shared ones)' } },
  examples: ['addons', 'addons --app web'],
  async run(ctx) {
    const appName = ctx.flags.app;
    let rows: { addon: AddonView; attachedAs: string[] }[];
    if (appName) {
      const app = foundApp(appName, (await ctx.client().request(APP_ADDONS, { name: appName })).app);
      const byName = new Map(app.addons.map((a) => [a.name, a]));
      // Add-ons another app owns show up through their attachment to this app.
      for (const attachment of app.attachments) {
        if (!byName.has(attachment.addon.name)) {
          const addon = await fetchAddon(ctx, attachment.addon.name);
          if (addon) byName.set(addon.name, addon);
        }
      }
      rows = [...byName.values()].map((addon) => ({
        addon,
        attachedAs: app.attachments.filter((a) => a.addon.name === addon.name).map((a) => a.name),
      }));
    } else {
      const data = await ctx.client().request(ALL_ADDONS);
      rows = data.apps.flatMap((a) =>
        a.addons.map((addon) => ({ addon, attachedAs: addon.attachments.map((t) => `${t.name}@${t.app.name}`) })),
      );
    }
    if (ctx.json) return ctx.printJson(rows.map((r) => r.addon));
    ctx.print(
      table(
        rows.map(({ addon, attachedAs }) => ({
          addon: addon.name,
          plan: `${addon.serviceSlug}:${addon.planSlug}`,
          owner: addon.app.name,
          state: lower(addon.state),
          attached: attachedAs.join(', '),
        })),
        ['addon', 'plan', 'owner', 'state', 'attached'],
      ),
    );
  },
});
