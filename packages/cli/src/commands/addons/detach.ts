import { defineCommand } from '../../command.js';
import { APP_FLAG } from '../../flags.js';
import { ErrorFields, graphql, InvalidInputFields, mutate } from '../../graphql.js';
import { AttachmentFields, fetchAddon, lower } from '../../views.js';
import { ATTACHMENT_BUSY, type Progress, WAIT_FLAGS, waitFor, waitTimeout } from '../../wait.js';

const DETACH_ADDON = graphql(
  `
  mutation DetachAddon($input: DetachAddonInput!) {
    detachAddon(input: $input) {
      __typename ... on DetachAddonSuccess { attachment { ...AttachmentFields } } ...ErrorFields ...InvalidInputFields
    }
  }
`,
  [AttachmentFields, ErrorFields, InvalidInputFields],
);

export default defineCommand({
  id: 'addons:detach',
  summary: 'detach the attachment NAME from APP (its vars leave APP)',
  args: { NAME: { description: 'the attachment name, such as REPORTING' } },
  flags: { app: { ...APP_FLAG, required: true, description: 'the app to detach it from' }, ...WAIT_FLAGS },
  examples: ['addons:detach REPORTING --app worker --wait'],
  async run(ctx) {
    const { NAME: name } = ctx.args;
    const { app } = ctx.flags;
    const timeout = waitTimeout(ctx.flags);
    let { attachment } = await mutate(ctx, DETACH_ADDON, { input: { app, name } }, 'detachAddon', 'DetachAddonSuccess');
    if (timeout !== null) {
      const last = attachment;
      // A detached attachment is no longer listed on its add-on.
      attachment = await waitFor(
        ctx,
        `detaching ${name} from ${app}`,
        timeout,
        async () =>
          (await fetchAddon(ctx, last.addon.name))?.attachments.find((a) => a.id === last.id) ?? {
            ...last,
            state: 'DETACHED' as const,
          },
        (a): Progress =>
          a.state === 'FAILED'
            ? {
                done: true,
                failure: `detaching ${name} failed: ${a.lastError ?? 'no error recorded'}`,
                status: 'failed',
              }
            : { done: !ATTACHMENT_BUSY.has(a.state), status: lower(a.state) },
      );
    }
    if (ctx.json) return ctx.printJson(attachment);
    ctx.print(
      timeout !== null
        ? `Detached ${name} (${attachment.addon.name}) from ${app}`
        : `Detaching ${name} (${attachment.addon.name}) from ${app}: ${lower(attachment.state)}`,
    );
  },
});
