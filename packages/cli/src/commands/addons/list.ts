import { defineCommand } from '../../command.js';
import { APP_FLAG } from '../../flags.js';
import { graphql } from '../../graphql.js';
import { table } from '../../output.js';
import { AddonFields, type AddonView, attachedTo, foundApp, lower, ownerOf } from '../../views.js';

// An app's add-ons are those it owns and those attached to it, which may be another app's
// or another organization's (shared with this one).
const AppAddonFields = graphql(
  `
  fragment AppAddonFields on App { addons { ...AddonFields } attachments { name addon { ...AddonFields } } }
`,
  [AddonFields],
);
const ADDONS_OF_APP = graphql('query AddonsOfApp($name: String!) { app(name: $name) { ...AppAddonFields } }', [
  AppAddonFields,
]);
const ADDONS_OF_APPS = graphql('query AddonsOfApps { apps { ...AppAddonFields } }', [AppAddonFields]);

/** Each add-on once, in the order first seen. */
function distinct(addons: AddonView[]): AddonView[] {
  return [...new Map(addons.map((a) => [a.name, a])).values()];
}

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
      const app = foundApp(appName, (await ctx.client().request(ADDONS_OF_APP, { name: appName })).app);
      rows = distinct([...app.addons, ...app.attachments.map((a) => a.addon)]).map((addon) => ({
        addon,
        attachedAs: app.attachments.filter((a) => a.addon.name === addon.name).map((a) => a.name),
      }));
    } else {
      const { apps } = await ctx.client().request(ADDONS_OF_APPS);
      rows = distinct(apps.flatMap((app) => [...app.addons, ...app.attachments.map((a) => a.addon)])).map((addon) => ({
        addon,
        attachedAs: addon.attachments.map((t) => `${attachedTo(t)} as ${t.name}`),
      }));
    }
    if (ctx.json) return ctx.printJson(rows.map((r) => r.addon));
    ctx.print(
      table(
        rows.map(({ addon, attachedAs }) => ({
          addon: addon.name,
          plan: `${addon.serviceSlug}:${addon.planSlug}`,
          owner: ownerOf(addon),
          state: lower(addon.state),
          attached: attachedAs.join(', '),
        })),
        ['addon', 'plan', 'owner', 'state', 'attached'],
      ),
    );
  },
});
