import { parseVarNames } from '../../args.js';
import { defineCommand } from '../../command.js';
import { APP_FLAG } from '../../flags.js';
import { REASON_FLAG, setVars } from './set-vars.js';

export default defineCommand({
  id: 'config:unset',
  summary: 'remove user config vars of APP, as one release',
  args: { KEY: { description: 'a var to remove; several make one release', variadic: true } },
  flags: { app: { ...APP_FLAG, required: true }, reason: REASON_FLAG },
  examples: ['config:unset LOG_LEVEL --app web'],
  async run(ctx) {
    const names = parseVarNames(ctx.args.KEY);
    const vars = Object.fromEntries(names.map((n) => [n, null]));
    return setVars(ctx, ctx.flags.app, vars, `unset ${names.join(', ')}`, ctx.flags.reason);
  },
});
