import { defineCommand } from '../../command.js';
import { ErrorFields, graphql, InvalidInputFields, mutate } from '../../graphql.js';

const CREATE_ORGANIZATION = graphql(
  `
  mutation CreateOrganization($slug: String!, $name: String!) {
    createOrganization(slug: $slug, name: $name) {
      __typename ... on Organization { id slug name } ...ErrorFields ...InvalidInputFields
    }
  }
`,
  [ErrorFields, InvalidInputFields],
);

export default defineCommand({
  id: 'admin orgs:create',
  summary: 'create an organization (admin token)',
  args: { SLUG: { description: "the organization's slug, such as acme" } },
  flags: { name: { type: 'string', value: 'NAME', description: 'its display name (the slug by default)' } },
  examples: ['admin orgs:create acme --name "Acme Inc"'],
  async run(ctx) {
    const slug = ctx.args.SLUG;
    const result = await mutate(
      ctx,
      CREATE_ORGANIZATION,
      { slug, name: ctx.flags.name ?? slug },
      'createOrganization',
      'Organization',
    );
    if (ctx.json) return ctx.printJson(result);
    ctx.print(`Created organization ${result.slug} (${result.id})`);
  },
});
