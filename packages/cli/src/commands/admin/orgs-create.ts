import { defineCommand } from '../../command.js';
import { ERROR, INVALID_INPUT, mutate } from '../../graphql.js';

export default defineCommand({
  id: 'admin orgs:create',
  summary: 'create an organization (admin token)',
  args: { SLUG: { description: "the organization's slug, such as acme" } },
  flags: { name: { type: 'string', value: 'NAME', description: 'its display name (the slug by default)' } },
  examples: ['admin orgs:create acme --name "Acme Inc"'],
  async run(ctx) {
    const slug = ctx.args.SLUG;
    const result = await mutate<{ __typename: string; id: string; slug: string; name: string }>(
      ctx,
      'createOrganization',
      `mutation($slug: String!, $name: String!) { createOrganization(slug: $slug, name: $name) {
        __typename ... on Organization { id slug name } ${ERROR} ${INVALID_INPUT} } }`,
      { slug, name: ctx.flags.name ?? slug },
      'Organization',
    );
    if (ctx.json) return ctx.printJson(result);
    ctx.print(`Created organization ${result.slug} (${result.id})`);
  },
});
