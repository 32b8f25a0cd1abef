import { CliError } from '../../client.js';
import { defineCommand } from '../../command.js';
import { EXIT_CODES } from '../../exit-codes.js';
import { graphql } from '../../graphql.js';
import { AddonFields, attachmentLine, lower } from '../../views.js';

// With its service's listing stage: a DEPRECATED service's add-ons keep working, but no new
// ones can be made (docs/provider-portal.md, "Listing lifecycle").
const ADDON_INFO = graphql(
  'query AddonInfo($name: String!) { addon(name: $name) { ...AddonFields service { stage } } }',
  [AddonFields],
);

const STAGE_NOTES: Record<string, string> = {
  DEPRECATED: 'deprecated: this add-on keeps working, but no new add-ons of the service can be created',
  ALPHA: 'alpha: open to invited organizations only',
  BETA: 'beta',
};

export default defineCommand({
  id: 'addons:info',
  summary: 'an add-on: plan, owner, state, last error and every attachment with its vars',
  args: { ADDON: { description: "the add-on's name, such as postgres-amber-4172" } },
  flags: {},
  examples: ['addons:info postgres-amber-4172'],
  async run(ctx) {
    const addon = (await ctx.client().request(ADDON_INFO, { name: ctx.args.ADDON })).addon;
    if (!addon) throw new CliError(`add-on "${ctx.args.ADDON}" not found`, EXIT_CODES.refused);
    if (ctx.json) return ctx.printJson(addon);
    const note = addon.service ? STAGE_NOTES[addon.service.stage] : undefined;
    ctx.print(
      [
        `=== ${addon.name}`,
        `plan:       ${addon.serviceSlug}:${addon.planSlug} (provider ${addon.providerSlug})`,
        ...(note ? [`service:    ${note}`] : []),
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
