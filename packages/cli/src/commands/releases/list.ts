import { parseWholeNumber } from '../../args.js';
import { CliError } from '../../client.js';
import { defineCommand } from '../../command.js';
import { EXIT_CODES } from '../../exit-codes.js';
import { APP_FLAG } from '../../flags.js';
import { graphql } from '../../graphql.js';
import { table } from '../../output.js';
import { keptVar, ReleaseFields } from '../../views.js';

const RELEASES = graphql(
  `
  query Releases($name: String!, $first: Int) { app(name: $name) { releases(first: $first) { ...ReleaseFields } } }
`,
  [ReleaseFields],
);

export default defineCommand({
  id: 'releases',
  summary: 'config releases of APP, newest first: version, changed names, vars a rollback kept, actor, reason',
  args: {},
  flags: {
    app: { ...APP_FLAG, required: true },
    limit: { type: 'string', value: 'N', description: 'how many releases, 1 to 100 (default 20)' },
  },
  examples: ['releases --app web', 'releases --app web --limit 5 --json'],
  async run(ctx) {
    const { app: name } = ctx.flags;
    const limit = ctx.flags.limit === undefined ? 20 : parseWholeNumber('limit', ctx.flags.limit, 1, 100);
    const data = await ctx.client().request(RELEASES, { name, first: limit });
    if (!data.app) throw new CliError(`app "${name}" not found`, EXIT_CODES.refused);
    const { releases } = data.app;
    if (ctx.json) return ctx.printJson(releases);
    // Only rollbacks keep vars (those of add-ons); the column is there when one is listed.
    const kept = releases.some((r) => r.kept.length > 0) ? ['kept'] : [];
    ctx.print(
      table(
        releases.map((r) => ({
          version: `v${r.version}`,
          changes: r.diff
            .map((d) => `${d.change === 'removed' ? '-' : d.change === 'added' ? '+' : '~'}${d.name}`)
            .join(' '),
          kept: r.kept.map(keptVar).join(', '),
          actor: r.actor,
          reason: r.reason,
          created: r.createdAt,
        })),
        ['version', 'changes', ...kept, 'actor', 'reason', 'created'],
      ),
    );
  },
});
