import { parseAttachmentName } from '../../args.js';
import { CliError } from '../../client.js';
import { defineCommand } from '../../command.js';
import { EXIT_CODES } from '../../exit-codes.js';
import { APP_FLAG, AS_FLAG, REPLACE_FLAG } from '../../flags.js';
import { CollisionFields, ErrorFields, graphql, InvalidInputFields, mutate } from '../../graphql.js';
import { preflight, printPreflight } from '../../preflight.js';
import { AttachmentFields, lower } from '../../views.js';
import { addonSettled, WAIT_FLAGS, waitForAddon, waitTimeout } from '../../wait.js';

const ATTACH_ADDON = graphql(
  `
  mutation AttachAddon($input: AttachAddonInput!) {
    attachAddon(input: $input) {
      __typename ... on AttachAddonSuccess { attachment { ...AttachmentFields } }
      ...ErrorFields ...InvalidInputFields ...CollisionFields
    }
  }
`,
  [AttachmentFields, ErrorFields, InvalidInputFields, CollisionFields],
);

export default defineCommand({
  id: 'addons:attach',
  summary: 'attach an existing add-on to APP under a name (its vars are set in APP)',
  args: { ADDON: { description: "the add-on's name, such as postgres-amber-4172" } },
  flags: {
    app: { ...APP_FLAG, required: true, description: 'the app to attach it to' },
    as: AS_FLAG,
    replace: REPLACE_FLAG,
    'dry-run': { type: 'boolean', description: 'show the config vars and any collision; attach nothing' },
    ...WAIT_FLAGS,
  },
  examples: [
    'addons:attach postgres-amber-4172 --app worker --as REPORTING --dry-run',
    'addons:attach postgres-amber-4172 --app worker --as REPORTING --wait',
  ],
  async run(ctx) {
    const addonName = ctx.args.ADDON;
    const { app, as } = ctx.flags;
    const input = {
      addon: addonName,
      app,
      as: as === undefined ? null : parseAttachmentName(as),
      replace: ctx.flags.replace,
    };
    const timeout = waitTimeout(ctx.flags);
    if (ctx.flags['dry-run']) {
      if (timeout !== null)
        throw new CliError('--dry-run attaches nothing, so there is nothing to --wait for', EXIT_CODES.usage);
      return printPreflight(ctx, await preflight(ctx, input), `attach ${addonName} to ${app}`);
    }
    let { attachment } = await mutate(ctx, ATTACH_ADDON, { input }, 'attachAddon', 'AttachAddonSuccess');
    if (timeout !== null) {
      const { id } = attachment;
      const addon = await waitForAddon(ctx, `attaching ${addonName} to ${app}`, timeout, addonName, (a) =>
        addonSettled(a, id),
      );
      attachment = addon.attachments.find((a) => a.id === id) ?? attachment;
    }
    if (ctx.json) return ctx.printJson(attachment);
    ctx.print(
      timeout !== null
        ? `Attached ${addonName} to ${app} as ${attachment.name}: ${attachment.configVarNames.join(', ')}`
        : `Attaching ${addonName} to ${app} as ${attachment.name}: ${lower(attachment.state)}. Pass --wait to follow it.`,
    );
  },
});
