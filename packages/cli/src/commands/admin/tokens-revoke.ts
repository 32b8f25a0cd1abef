import { defineCommand } from '../../command.js';
import { ErrorFields, graphql, mutate } from '../../graphql.js';

const REVOKE_API_TOKEN = graphql(
  `
  mutation RevokeApiToken($id: ID!) {
    revokeApiToken(id: $id) { __typename ... on ApiTokenRevoked { id prefix revokedAt } ...ErrorFields }
  }
`,
  [ErrorFields],
);

export default defineCommand({
  id: 'admin tokens:revoke',
  summary: 'revoke an API token at once (admin token)',
  args: { TOKEN_ID: { description: 'the id `admin tokens:create` printed' } },
  flags: {},
  examples: ['admin tokens:revoke 0b5c3f0e-8f1d-4c8a-9a57-2f0f6f1f2a10'],
  async run(ctx) {
    const id = ctx.args.TOKEN_ID;
    const result = await mutate(ctx, REVOKE_API_TOKEN, { id }, 'revokeApiToken', 'ApiTokenRevoked');
    if (ctx.json) return ctx.printJson(result);
    ctx.print(`Revoked token ${result.id} (${result.prefix}…)`);
  },
});
