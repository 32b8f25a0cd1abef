import { defineCommand } from '../../command.js';
import { ErrorFields, graphql, ManifestInvalidFields, mutate } from '../../graphql.js';
import { BrokerPublishedFields, servicesBySlug } from './brokers.js';

const REFRESH_OSB_BROKER = graphql(
  `
  mutation RefreshOsbBroker($slug: String!) {
    refreshOsbBroker(providerSlug: $slug) {
      __typename ...BrokerPublishedFields ...ErrorFields ...ManifestInvalidFields
    }
  }
`,
  [BrokerPublishedFields, ErrorFields, ManifestInvalidFields],
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
    const revision = result.unchanged ? `unchanged (revision ${result.revision})` : `revision ${result.revision}`;
    ctx.print(`${slug}: ${revision}. ${servicesBySlug(result)}`);
  },
});
