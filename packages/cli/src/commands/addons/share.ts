import { defineCommand } from '../../command.js';
import { changeSharing, SHARED_ORG_FLAG } from './sharing.js';

export default defineCommand({
  id: 'addons:share',
  summary: "let another organization's apps attach an add-on (its owner keeps it and pays for it)",
  args: { ADDON: { description: "the add-on's name, such as postgres-amber-4172" } },
  flags: { org: SHARED_ORG_FLAG },
  examples: ['addons:share postgres-amber-4172 --org globex'],
  run: (ctx) => changeSharing(ctx, true, ctx.args.ADDON, ctx.flags.org),
});
