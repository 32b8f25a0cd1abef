import { defineCommand } from '../../command.js';
import { ErrorFields, graphql, InvalidInputFields, mutate } from '../../graphql.js';

const CREATE_PROVIDER = graphql(
  `
  mutation CreateProvider($slug: String!, $name: String!) {
    createProvider(slug: $slug, name: $name) {
      __typename ... on ProviderCreated { token tokenId provider { slug } } ...ErrorFields ...InvalidInputFields
    }
  }
`,
  [ErrorFields, InvalidInputFields],
);

export default defineCommand({
  id: 'admin providers:create',
  summary: 'create a provider and print its publishing token once (admin token)',
  args: { SLUG: { description: "the provider's slug, such as acme-db" } },
  flags: { name: { type: 'string', value: 'NAME', description: 'its display name (the slug by default)' } },
  examples: ['admin providers:create acme-db --name "Acme Databases"'],
  async run(ctx) {
    const slug = ctx.args.SLUG;
    const result = await mutate(
      ctx,
      CREATE_PROVIDER,
      { slug, name: ctx.flags.name ?? slug },
      'createProvider',
      'ProviderCreated',
    );
    if (ctx.json) return ctx.printJson(result);
    ctx.print(`Created provider ${result.provider.slug}.\nProvider token (shown once): ${result.token}`);
  },
});
