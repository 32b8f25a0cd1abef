import { defineCommand } from '../../command.js';
import { APP_FLAG } from '../../flags.js';
import { graphql } from '../../graphql.js';
import { table } from '../../output.js';
import { foundApp } from '../../views.js';

const CONFIG_VARS = graphql(`
  query ConfigVars($name: String!) { app(name: $name) { releaseVersion configVars { name value owner } } }
`);

export default defineCommand({
  id: 'config',
  summary: 'config vars of APP with their owners; values with --reveal or --json (token scope config:read)',
  args: {},
  flags: {
    app: { ...APP_FLAG, required: true },
    reveal: { type: 'boolean', description: 'print the values too (the token needs the config:read scope)' },
  },
  examples: ['config --app web', 'config --app web --reveal'],
  async run(ctx) {
    const { app: name, reveal } = ctx.flags;
    const app = foundApp(name, (await ctx.client().request(CONFIG_VARS, { name })).app);
    if (ctx.json) return ctx.printJson({ app: name, release: app.releaseVersion, vars: app.configVars });
    const hidden = reveal && app.configVars.some((v) => v.value === null);
    ctx.print(
      [
        `=== ${name} config vars (v${app.releaseVersion})`,
        table(
          app.configVars.map((v) => ({ name: v.name, owner: v.owner, ...(reveal ? { value: v.value ?? '' } : {}) })),
          reveal ? ['name', 'owner', 'value'] : ['name', 'owner'],
        ),
        ...(hidden ? ['(values are hidden: the token lacks the config:read scope)'] : []),
      ].join('\n'),
    );
  },
});
