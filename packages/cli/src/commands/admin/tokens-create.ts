import { CliError } from '../../client.js';
import { defineCommand } from '../../command.js';
import { EXIT_CODES } from '../../exit-codes.js';
import { ErrorFields, graphql, InvalidInputFields, mutate, type TokenKind } from '../../graphql.js';
import { scopeList, scopeProblem } from '../../scopes.js';

const CREATE_API_TOKEN = graphql(
  `
  mutation CreateApiToken(
    $kind: TokenKind!, $name: String!, $org: String, $platform: String, $provider: String, $scopes: [String!]
  ) {
    createApiToken(
      kind: $kind, name: $name, organization: $org, platform: $platform, provider: $provider, scopes: $scopes
    ) {
      __typename ... on ApiTokenCreated { id kind prefix token } ...ErrorFields ...InvalidInputFields
    }
  }
`,
  [ErrorFields, InvalidInputFields],
);

const KINDS = ['admin', 'platform', 'provider', 'org'];

export default defineCommand({
  id: 'admin tokens:create',
  summary: 'create a scoped API token and print it once (admin token)',
  args: {},
  flags: {
    kind: { type: 'string', value: 'KIND', required: true, description: 'admin, platform, provider or org' },
    name: { type: 'string', value: 'NAME', required: true, description: 'what the token is for, such as ci' },
    org: { type: 'string', value: 'ORG', description: 'the organization of an org token (slug)' },
    platform: { type: 'string', value: 'PLATFORM', description: 'the platform of a platform token (slug)' },
    provider: { type: 'string', value: 'PROVIDER', description: 'the provider of a provider token (slug)' },
    scope: {
      type: 'string',
      value: 'SCOPE',
      multiple: true,
      description:
        'a scope to grant, or several separated by commas (see `annex help`); none: every scope but config:read',
    },
  },
  examples: [
    'admin tokens:create --kind org --org acme --name ci --scope config:read',
    'admin tokens:create --kind org --org acme --name deploy --scope apps:write,config:write',
  ],
  async run(ctx) {
    const { kind } = ctx.flags;
    if (!KINDS.includes(kind))
      throw new CliError(`--kind must be admin, platform, provider or org (got "${kind}")`, EXIT_CODES.usage);
    const scopes = scopeList(ctx.flags.scope);
    const problem = scopeProblem(kind, scopes);
    if (problem) throw new CliError(`--scope: ${problem}`, EXIT_CODES.usage);
    const result = await mutate(
      ctx,
      CREATE_API_TOKEN,
      {
        kind: kind.toUpperCase() as TokenKind,
        name: ctx.flags.name,
        org: ctx.flags.org ?? null,
        platform: ctx.flags.platform ?? null,
        provider: ctx.flags.provider ?? null,
        scopes,
      },
      'createApiToken',
      'ApiTokenCreated',
    );
    if (ctx.json) return ctx.printJson(result);
    ctx.print(`Created ${kind} token ${result.id}.\nToken (shown once): ${result.token}`);
  },
});
