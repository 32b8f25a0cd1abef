import { defineCommand } from '../../command.js';
import { ErrorFields, graphql, ManifestInvalidFields, mutate } from '../../graphql.js';

const REFRESH_OSB_BROKER = graphql(
  `
  mutation RefreshOsbBroker($slug: String!) {
    refreshOsbBroker(providerSlug: $slug) {
      __typename ... on ManifestPublished { revision unchanged provider { slug } } ...ErrorFields ...ManifestInvalidFields
    }
  }
`,
  [ErrorFields, ManifestInvalidFields],
);

export default defineCommand({
  id: 'admin brokers:refresh',
  summary: 're-read a registered OSB broker’s catalog (admin token)',
  args: { PROVIDER_SLUG: { description: 'the provider the broker was registered under' } },
  flags: {},
  examples: ['admin brokers:refresh legacy'],
  async run(ctx) {
    const slug = ctx.args.PROVIDER_SLUG;
    const result = await mutate(ctx, REFRESH_OSB_BROKER, { slug }, 'refreshOsbBroker', 'ManifestPublished');
    if (ctx.json) return ctx.printJson(result);
    ctx.print(
      result.unchanged ? `${slug}: unchanged (revision ${result.revision})` : `${slug}: revision ${result.revision}`,
    );
  },
});
