import { defineCommand } from '../../command.js';
import { graphql } from '../../graphql.js';
import { table } from '../../output.js';
import { AppFields } from '../../views.js';

const APPS = graphql('query Apps { apps { ...AppFields } }', [AppFields]);

export default defineCommand({
  id: 'apps',
  summary: 'list the apps the token can see',
  args: {},
  flags: {},
  examples: ['apps', 'apps --json'],
  async run(ctx) {
    const data = await ctx.client().request(APPS);
    if (ctx.json) return ctx.printJson(data.apps);
    ctx.print(
      table(
        data.apps.map((a) => ({ app: a.name, organization: a.organization, release: `v${a.releaseVersion}` })),
        ['app', 'organization', 'release'],
      ),
    );
  },
});
