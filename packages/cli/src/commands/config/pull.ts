import { defineCommand } from '../../command.js';
import { formatConfig, parseConfigFormat, pullConfig, writeConfigFile } from '../../config-pull.js';
import { API_FLAG, APP_FLAG, FORMAT_FLAG } from '../../flags.js';

export default defineCommand({
  id: 'config:pull',
  summary: "print APP's config vars as env, JSON or YAML, or write them to a file (token scope config:read)",
  description: [
    'With --output the file is written whole (mode 0600, replaced in one step) and starts',
    'with a mark that annex wrote it: a comment line for env and yaml, the `annex` key for',
    'json (`{annex: {app, release}, vars: {NAME: value}}`). A file without that mark is not',
    'replaced unless --force is given.',
  ].join('\n'),
  args: {},
  flags: {
    app: { ...APP_FLAG, required: true },
    format: FORMAT_FLAG,
    output: { type: 'string', value: 'FILE', short: 'o', description: 'write to FILE instead of standard output' },
    force: { type: 'boolean', description: 'replace FILE even if annex did not write it' },
    api: API_FLAG,
  },
  examples: [
    'config:pull --app web > .env',
    'config:pull --app web --format yaml --output config.yaml',
    'config:pull --app web --format json --output .env.json --force',
  ],
  async run(ctx) {
    const { app, output, force } = ctx.flags;
    // --json without --format prints JSON.
    const format = parseConfigFormat(ctx.flags.format ?? (ctx.json && !output ? 'json' : undefined));
    const pulled = await pullConfig(ctx.flags.api ?? ctx.apiUrl, ctx.token, app);
    const content = formatConfig(pulled, format);
    if (!output) {
      ctx.print(content.trimEnd());
      return;
    }
    writeConfigFile(output, content, { force });
    const written = { app, release: pulled.release, format, output, vars: Object.keys(pulled.vars).length };
    if (ctx.json) return ctx.printJson(written);
    ctx.print(`Wrote ${written.vars} config vars of ${app} (v${pulled.release}) to ${output}`);
  },
});
