import { defineCommand } from '../../command.js';
import { ErrorFields, graphql, InvalidInputFields, mutate } from '../../graphql.js';

const CREATE_PLATFORM = graphql(
  `
  mutation CreatePlatform($slug: String!, $name: String!, $orgs: [String!]!) {
    createPlatform(slug: $slug, name: $name, organizations: $orgs) {
      __typename ... on PlatformCreated { id slug osbUsername osbPassword organizations }
      ...ErrorFields ...InvalidInputFields
    }
  }
`,
  [ErrorFields, InvalidInputFields],
);

export default defineCommand({
  id: 'admin platforms:create',
  summary: 'create a platform and print its OSB basic-auth credentials once (admin token)',
  args: { SLUG: { description: "the platform's slug, such as acme-paas" } },
  flags: {
    org: {
      type: 'string',
      value: 'ORG',
      multiple: true,
      description: 'an organization the platform acts for (slug)',
    },
    name: { type: 'string', value: 'NAME', description: 'its display name (the slug by default)' },
  },
  examples: ['admin platforms:create acme-paas --org acme', 'admin platforms:create shared --org acme --org globex'],
  async run(ctx) {
    const slug = ctx.args.SLUG;
    const result = await mutate(
      ctx,
      CREATE_PLATFORM,
      { slug, name: ctx.flags.name ?? slug, orgs: ctx.flags.org },
      'createPlatform',
      'PlatformCreated',
    );
    if (ctx.json) return ctx.printJson(result);
    ctx.print(
      [
        `Created platform ${result.slug} for ${result.organizations.join(', ') || 'no organizations'}.`,
        `OSB basic auth (shown once): ${result.osbUsername}:${result.osbPassword}`,
      ].join('\n'),
    );
  },
});
