import { defineCommand } from '../../command.js';
import { ERROR, MANIFEST_INVALID, mutate } from '../../graphql.js';

export default defineCommand({
  id: 'admin brokers:refresh',
  summary: 're-read a registered OSB broker’s catalog (admin token)',
  args: { PROVIDER_SLUG: { description: 'the provider the broker was registered under' } },
  flags: {},
  examples: ['admin brokers:refresh legacy'],
  async run(ctx) {
    const slug = ctx.args.PROVIDER_SLUG;
    const result = await mutate<{ __typename: string; revision: number; unchanged: boolean }>(
      ctx,
      'refreshOsbBroker',
      `mutation($slug: String!) { refreshOsbBroker(providerSlug: $slug) {
        __typename ... on ManifestPublished { revision unchanged provider { slug } } ${ERROR} ${MANIFEST_INVALID} } }`,
      { slug },
      'ManifestPublished',
    );
    if (ctx.json) return ctx.printJson(result);
    ctx.print(
      result.unchanged ? `${slug}: unchanged (revision ${result.revision})` : `${slug}: revision ${result.revision}`,
    );
  },
});
