import { parseVersion } from '../../args.js';
import { defineCommand } from '../../command.js';
import { APP_FLAG } from '../../flags.js';
import { ErrorFields, graphql, InvalidInputFields, mutate } from '../../graphql.js';
import { keptVar, ReleaseFields } from '../../views.js';

const ROLLBACK_CONFIG = graphql(
  `
  mutation RollbackConfig($input: RollbackConfigInput!) {
    rollbackConfig(input: $input) {
      __typename ... on RollbackConfigSuccess { release { ...ReleaseFields } } ...ErrorFields ...InvalidInputFields
    }
  }
`,
  [ReleaseFields, ErrorFields, InvalidInputFields],
);

export default defineCommand({
  id: 'releases:rollback',
  summary: "a new release whose config vars equal those of VERSION (v3 or 3); add-ons' vars stay as they are",
  args: { VERSION: { description: 'the release to go back to, such as v3' } },
  flags: { app: { ...APP_FLAG, required: true } },
  examples: ['releases:rollback v3 --app web'],
  async run(ctx) {
    const version = parseVersion(ctx.args.VERSION);
    const { app } = ctx.flags;
    const { release } = await mutate(
      ctx,
      ROLLBACK_CONFIG,
      { input: { app, version } },
      'rollbackConfig',
      'RollbackConfigSuccess',
    );
    if (ctx.json) return ctx.printJson(release);
    ctx.print(
      [
        `Rolled back ${app} to v${version}: now v${release.version}`,
        ...release.kept.map((k) => `${keptVar(k)} left as it is`),
      ].join('\n'),
    );
  },
});
