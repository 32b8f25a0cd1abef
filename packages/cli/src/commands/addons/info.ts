import { defineCommand } from '../../command.js';
import { attachmentLine, lower, requireAddon } from '../../views.js';

export default defineCommand({
  id: 'addons:info',
  summary: 'an add-on: plan, owner, state, last error and every attachment with its vars',
  args: { ADDON: { description: "the add-on's name, such as postgres-amber-4172" } },
  flags: {},
  examples: ['addons:info postgres-amber-4172'],
  async run(ctx) {
    const addon = await requireAddon(ctx, ctx.args.ADDON);
    if (ctx.json) return ctx.printJson(addon);
    ctx.print(
      [
        `=== ${addon.name}`,
        `plan:       ${addon.serviceSlug}:${addon.planSlug} (provider ${addon.providerSlug})`,
        addon.app ? `owner app:  ${addon.app.name}` : `shared by:  ${addon.organization}`,
        `state:      ${lower(addon.state)}`,
        ...(addon.lastError ? [`last error: ${addon.lastError}`] : []),
        `created:    ${addon.createdAt}`,
        'attachments:',
        ...(addon.attachments.length > 0 ? addon.attachments.map((a) => `  ${attachmentLine(a)}`) : ['  (none)']),
      ].join('\n'),
    );
  },
});
