import { defineCommand } from '../../command.js';
import { changeSharing, SHARED_ORG_FLAG } from './sharing.js';

export default defineCommand({
  id: 'addons:unshare',
  summary: 'stop sharing an add-on with an organization (refused while its apps have it attached)',
  args: { ADDON: { description: "the add-on's name, such as postgres-amber-4172" } },
  flags: { org: SHARED_ORG_FLAG },
  examples: ['addons:unshare postgres-amber-4172 --org globex'],
  run: (ctx) => changeSharing(ctx, false, ctx.args.ADDON, ctx.flags.org),
});
