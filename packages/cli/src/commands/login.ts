import { CliError, graphqlClient } from '../client.js';
import { defineCommand } from '../command.js';
import { writeLogin } from '../credentials.js';
import { EXIT_CODES } from '../exit-codes.js';
import { graphql } from '../graphql.js';

// The cheapest query a token may make: it tells a refused token from an accepted one.
const CHECK_TOKEN = graphql('query CheckToken { categories { slug } }');

export default defineCommand({
  id: 'login',
  summary: 'check a token against the catalog and store it for the next commands',
  description: [
    'The token comes from --token, else from standard input: typed or pasted at a terminal',
    '(not shown), or piped. It is stored, readable by you only, with the catalog URL.',
  ].join('\n'),
  args: {},
  flags: {},
  examples: ['login', 'login --catalog https://annex.example.com/graphql', 'login --token "$ANNEX_TOKEN"'],
  async run(ctx) {
    let token = ctx.flags.token;
    if (!token && ctx.readInput) token = (await ctx.readInput('Token: ', { secret: true })).trim();
    if (!token || !/^annex_[a-z]+_/.test(token))
      throw new CliError('expected an Annex token (annex_…) with --token or on standard input', EXIT_CODES.usage);
    // Check the token before storing it: a typo should fail now, not at the next command.
    await graphqlClient(ctx.catalogUrl, token).request(CHECK_TOKEN);
    const file = writeLogin(ctx.configDir, { catalogUrl: ctx.catalogUrl, token });
    if (ctx.json) return ctx.printJson({ catalogUrl: ctx.catalogUrl, stored: file });
    ctx.print(`Logged in to ${ctx.catalogUrl} (token stored in ${file}).`);
  },
});
