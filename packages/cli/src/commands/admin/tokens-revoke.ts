import { defineCommand } from '../../command.js';
import { ERROR, mutate } from '../../graphql.js';

export default defineCommand({
  id: 'admin tokens:revoke',
  summary: 'revoke an API token at once (admin token)',
  args: { TOKEN_ID: { description: 'the id `admin tokens:create` printed' } },
  flags: {},
  examples: ['admin tokens:revoke 0b5c3f0e-8f1d-4c8a-9a57-2f0f6f1f2a10'],
  async run(ctx) {
    const id = ctx.args.TOKEN_ID;
    const result = await mutate<{ __typename: string; id: string; prefix: string }>(
      ctx,
      'revokeApiToken',
      `mutation($id: ID!) { revokeApiToken(id: $id) { __typename ... on ApiTokenRevoked { id prefix revokedAt } ${ERROR} } }`,
      { id },
      'ApiTokenRevoked',
    );
    if (ctx.json) return ctx.printJson(result);
    ctx.print(`Revoked token ${result.id} (${result.prefix}…)`);
  },
});
