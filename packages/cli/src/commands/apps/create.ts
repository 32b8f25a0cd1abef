import { defineCommand } from '../../command.js';
import { ORG_FLAG } from '../../flags.js';
import { ErrorFields, graphql, InvalidInputFields, mutate } from '../../graphql.js';
import { AppFields } from '../../views.js';

const CREATE_APP = graphql(
  `
  mutation CreateApp($input: CreateAppInput!) {
    createApp(input: $input) {
      __typename ... on CreateAppSuccess { app { ...AppFields } } ...ErrorFields ...InvalidInputFields
    }
  }
`,
  [AppFields, ErrorFields, InvalidInputFields],
);

export default defineCommand({
  id: 'apps:create',
  summary: 'create an app (an org token creates it in its organization; others name one with --org)',
  args: { NAME: { description: "the app's name, unique in the installation" } },
  flags: { org: ORG_FLAG },
  examples: ['apps:create web', 'apps:create web --org acme'],
  async run(ctx) {
    const result = await mutate(
      ctx,
      CREATE_APP,
      { input: { name: ctx.args.NAME, organization: ctx.flags.org ?? null } },
      'createApp',
      'CreateAppSuccess',
    );
    if (ctx.json) return ctx.printJson(result.app);
    ctx.print(`Created app ${result.app.name} in ${result.app.organization}`);
  },
});
