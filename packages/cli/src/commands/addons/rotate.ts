import { parseWholeNumber } from '../../args.js';
import { defineCommand } from '../../command.js';
import { ErrorFields, graphql, InvalidInputFields, mutate } from '../../graphql.js';
import { AddonFields, attachedTo } from '../../views.js';
import { addonSettled, type Progress, WAIT_FLAGS, waitForAddon, waitTimeout } from '../../wait.js';

const ROTATE_ADDON_CREDENTIALS = graphql(
  `
  mutation RotateAddonCredentials($input: RotateAddonCredentialsInput!) {
    rotateAddonCredentials(input: $input) {
      __typename ... on RotateAddonCredentialsSuccess { addon { ...AddonFields } } ...ErrorFields ...InvalidInputFields
    }
  }
`,
  [AddonFields, ErrorFields, InvalidInputFields],
);

export default defineCommand({
  id: 'addons:rotate',
  summary: 'new credentials for every attachment; the old ones are revoked after the grace period',
  args: { ADDON: { description: "the add-on's name, such as postgres-amber-4172" } },
  flags: {
    grace: {
      type: 'string',
      value: 'SECONDS',
      description: 'how long the old credentials keep working at most (0 to 604800; the broker’s default when absent)',
    },
    ...WAIT_FLAGS,
  },
  examples: ['addons:rotate postgres-amber-4172 --grace 600 --wait'],
  async run(ctx) {
    const name = ctx.args.ADDON;
    const { grace } = ctx.flags;
    const timeout = waitTimeout(ctx.flags);
    let { addon } = await mutate(
      ctx,
      ROTATE_ADDON_CREDENTIALS,
      {
        input: {
          addon: name,
          graceSeconds: grace === undefined ? null : parseWholeNumber('grace', grace, 0, 604_800, 'seconds'),
        },
      },
      'rotateAddonCredentials',
      'RotateAddonCredentialsSuccess',
    );
    if (timeout !== null) {
      addon = await waitForAddon(ctx, `rotating ${name}`, timeout, name, (a): Progress => {
        const progress = addonSettled(a);
        if (progress.failure || !progress.done) return progress;
        const failed = a.attachments.find((t) => t.state === 'FAILED');
        if (failed) {
          return {
            done: true,
            failure: `rotating ${name} failed for ${attachedTo(failed)} (${failed.name}): ${failed.lastError ?? 'no error recorded'}`,
            status: 'failed',
          };
        }
        const rotating = a.attachments.filter((t) => t.state === 'ROTATING').length;
        // A rotation that fails keeps the old credentials in place and says so in lastError.
        const kept = rotating === 0 && a.attachments.find((t) => t.lastError?.startsWith('rotation failed'));
        if (kept) {
          return {
            done: true,
            failure: `${attachedTo(kept)} (${kept.name}) keeps its old credentials: ${kept.lastError}`,
            status: 'failed',
          };
        }
        return { done: rotating === 0, status: `${rotating} attachment(s) rotating` };
      });
    }
    if (ctx.json) return ctx.printJson(addon);
    ctx.print(
      timeout !== null
        ? `Rotated ${name}: new credentials in ${addon.attachments.map((a) => `${attachedTo(a)} (${a.name})`).join(', ') || 'no app'}`
        : `Rotating ${name}. Pass --wait to follow it.`,
    );
  },
});
