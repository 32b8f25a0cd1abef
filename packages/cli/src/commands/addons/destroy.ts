import { CliError } from '../../client.js';
import { defineCommand } from '../../command.js';
import { EXIT_CODES } from '../../exit-codes.js';
import { ErrorFields, graphql, InvalidInputFields, mutate } from '../../graphql.js';
import { AddonFields, lower } from '../../views.js';
import { WAIT_FLAGS, waitForAddon, waitTimeout } from '../../wait.js';

const DESTROY_ADDON = graphql(
  `
  mutation DestroyAddon($input: DestroyAddonInput!) {
    destroyAddon(input: $input) {
      __typename ... on DestroyAddonSuccess { addon { ...AddonFields } } ...ErrorFields ...InvalidInputFields
    }
  }
`,
  [AddonFields, ErrorFields, InvalidInputFields],
);

export default defineCommand({
  id: 'addons:destroy',
  summary: 'detach an add-on everywhere and deprovision it (without a terminal, --confirm ADDON is required)',
  args: { ADDON: { description: "the add-on's name, such as postgres-amber-4172" } },
  flags: {
    confirm: {
      type: 'string',
      value: 'ADDON',
      description: "the add-on's name again; asked for on a terminal when absent",
    },
    ...WAIT_FLAGS,
  },
  examples: [
    'addons:destroy postgres-amber-4172',
    'addons:destroy postgres-amber-4172 --confirm postgres-amber-4172 --wait',
  ],
  async run(ctx) {
    const name = ctx.args.ADDON;
    const timeout = waitTimeout(ctx.flags);
    const { confirm } = ctx.flags;
    if (confirm === undefined) {
      if (!ctx.ask) {
        throw new CliError(
          `destroying ${name} needs --confirm ${name} when there is no terminal to ask`,
          EXIT_CODES.usage,
        );
      }
      const answer = (
        await ctx.ask(`This destroys ${name} and removes its vars from every app. Type ${name} to confirm: `)
      ).trim();
      if (answer !== name)
        throw new CliError(`confirmation "${answer}" does not match ${name}; nothing was destroyed`, EXIT_CODES.usage);
    } else if (confirm !== name) {
      throw new CliError(`--confirm ${confirm} does not match ${name}; nothing was destroyed`, EXIT_CODES.usage);
    }
    let { addon } = await mutate(ctx, DESTROY_ADDON, { input: { addon: name } }, 'destroyAddon', 'DestroyAddonSuccess');
    if (timeout !== null) {
      addon = await waitForAddon(
        ctx,
        `destroying ${name}`,
        timeout,
        name,
        (a) =>
          a.state === 'FAILED'
            ? {
                done: true,
                failure: `destroying ${name} failed: ${a.lastError ?? 'no error recorded'}`,
                status: 'failed',
              }
            : {
                done: a.state === 'DESTROYED',
                status: `${a.name} ${lower(a.state)}${a.lastError ? ` (${a.lastError})` : ''}`,
              },
        // A destroyed add-on is no longer listed.
        { ...addon, state: 'DESTROYED', attachments: [] },
      );
    }
    if (ctx.json) return ctx.printJson(addon);
    ctx.print(timeout !== null ? `Destroyed ${name}` : `Destroying ${name}: ${lower(addon.state)}`);
  },
});
