import { parseAttachmentName, parseParams, parseServicePlan } from '../../args.js';
import { CliError } from '../../client.js';
import { defineCommand } from '../../command.js';
import { EXIT_CODES } from '../../exit-codes.js';
import { APP_FLAG, AS_FLAG, REPLACE_FLAG } from '../../flags.js';
import { CollisionFields, ErrorFields, graphql, InvalidInputFields, mutate } from '../../graphql.js';
import { preflight, printPreflight } from '../../preflight.js';
import { AddonFields, AttachmentFields, lower } from '../../views.js';
import { addonSettled, WAIT_FLAGS, waitForAddon, waitTimeout } from '../../wait.js';

const CREATE_ADDON = graphql(
  `
  mutation CreateAddon($input: CreateAddonInput!) {
    createAddon(input: $input) {
      __typename ... on CreateAddonSuccess { addon { ...AddonFields } attachment { ...AttachmentFields } }
      ...ErrorFields ...InvalidInputFields ...CollisionFields
    }
  }
`,
  [AddonFields, AttachmentFields, ErrorFields, InvalidInputFields, CollisionFields],
);

export default defineCommand({
  id: 'addons:create',
  summary: 'create an add-on for APP and attach it (--dry-run: price, vars and collisions, creating nothing)',
  args: { 'SERVICE:PLAN': { description: 'the service and its plan, such as postgres:hobby' } },
  flags: {
    app: { ...APP_FLAG, required: true, description: 'the app that owns the add-on (and pays for it)' },
    as: AS_FLAG,
    param: {
      type: 'string',
      value: 'KEY=VALUE',
      multiple: true,
      description: 'a provisioning parameter; VALUE is read as JSON when it is (size=10 is a number)',
    },
    replace: REPLACE_FLAG,
    'dry-run': { type: 'boolean', description: 'show the price, the config vars and any collision; create nothing' },
    ...WAIT_FLAGS,
  },
  examples: [
    'addons:create postgres:hobby --app web --dry-run',
    'addons:create postgres:hobby --app web --wait',
    'addons:create ai-gateway:starter --app web --as AI --param model=small',
  ],
  async run(ctx) {
    const plan = parseServicePlan(ctx.args['SERVICE:PLAN']);
    const { app, as } = ctx.flags;
    const input = {
      app,
      plan,
      as: as === undefined ? null : parseAttachmentName(as),
      parameters: parseParams(ctx.flags.param),
      replace: ctx.flags.replace,
    };
    const timeout = waitTimeout(ctx.flags);
    if (ctx.flags['dry-run']) {
      if (timeout !== null)
        throw new CliError('--dry-run creates nothing, so there is nothing to --wait for', EXIT_CODES.usage);
      return printPreflight(ctx, await preflight(ctx, input), `create ${plan} for ${app}`);
    }
    const created = await mutate(ctx, CREATE_ADDON, { input }, 'createAddon', 'CreateAddonSuccess');
    let { addon, attachment } = created;
    if (timeout !== null) {
      const attachmentId = attachment?.id;
      addon = await waitForAddon(ctx, `creating ${addon.name}`, timeout, addon.name, (a) =>
        addonSettled(a, attachmentId),
      );
      attachment = addon.attachments.find((a) => a.id === attachmentId) ?? attachment;
    }
    if (ctx.json) return ctx.printJson({ addon, attachment });
    const attached = attachment ? `, attached as ${attachment.name}` : ' (not bindable: no attachment)';
    ctx.print(
      timeout !== null
        ? `Created ${addon.name} (${plan}) for ${app}${attached}${attachment ? `: ${attachment.configVarNames.join(', ')}` : ''}`
        : `Creating ${addon.name} (${plan}) for ${app}${attached}: ${lower(addon.state)}. Follow it with \`annex addons:info ${addon.name}\`, or pass --wait.`,
    );
  },
});
