import { parseAssignments } from '../../args.js';
import { defineCommand } from '../../command.js';
import { APP_FLAG } from '../../flags.js';
import { REASON_FLAG, setVars } from './set-vars.js';

export default defineCommand({
  id: 'config:set',
  summary: 'set user config vars of APP, as one release',
  args: { 'KEY=VALUE': { description: 'a var and its value; several make one release', variadic: true } },
  flags: { app: { ...APP_FLAG, required: true }, reason: REASON_FLAG },
  examples: ['config:set LOG_LEVEL=debug --app web', 'config:set A=1 B=2 --app web --reason "try the new cache"'],
  async run(ctx) {
    const vars = parseAssignments(ctx.args['KEY=VALUE']);
    return setVars(ctx, ctx.flags.app, vars, `set ${Object.keys(vars).join(', ')}`, ctx.flags.reason);
  },
});
