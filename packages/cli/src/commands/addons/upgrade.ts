import { parsePlanSlug } from '../../args.js';
import { defineCommand } from '../../command.js';
import { ErrorFields, graphql, InvalidInputFields, mutate } from '../../graphql.js';
import { AddonFields, lower } from '../../views.js';
import { addonSettled, WAIT_FLAGS, waitForAddon, waitTimeout } from '../../wait.js';

const CHANGE_ADDON_PLAN = graphql(
  `
  mutation ChangeAddonPlan($input: ChangeAddonPlanInput!) {
    changeAddonPlan(input: $input) {
      __typename ... on ChangeAddonPlanSuccess { addon { ...AddonFields } } ...ErrorFields ...InvalidInputFields
    }
  }
`,
  [AddonFields, ErrorFields, InvalidInputFields],
);

export default defineCommand({
  id: 'addons:upgrade',
  summary: 'move an add-on to another plan of its service (PLAN or SERVICE:PLAN)',
  args: {
    ADDON: { description: "the add-on's name, such as postgres-amber-4172" },
    PLAN: { description: 'the plan to move to, such as standard or postgres:standard' },
  },
  flags: { ...WAIT_FLAGS },
  examples: ['addons:upgrade postgres-amber-4172 standard --wait'],
  async run(ctx) {
    const name = ctx.args.ADDON;
    const target = parsePlanSlug(ctx.args.PLAN);
    const timeout = waitTimeout(ctx.flags);
    let { addon } = await mutate(
      ctx,
      CHANGE_ADDON_PLAN,
      { input: { addon: name, plan: target.service ? `${target.service}:${target.plan}` : target.plan } },
      'changeAddonPlan',
      'ChangeAddonPlanSuccess',
    );
    if (timeout !== null) {
      addon = await waitForAddon(ctx, `changing ${name} to ${target.plan}`, timeout, name, (a) => {
        const progress = addonSettled(a);
        if (progress.done && !progress.failure && a.planSlug !== target.plan) {
          return {
            done: true,
            failure: `${name} stayed on ${a.planSlug}: ${a.lastError ?? 'the plan change did not happen'}`,
            status: progress.status,
          };
        }
        return progress;
      });
    }
    if (ctx.json) return ctx.printJson(addon);
    ctx.print(
      timeout !== null
        ? `${name} is now on ${addon.serviceSlug}:${addon.planSlug}`
        : `Changing ${name} to ${target.plan}: ${lower(addon.state)}`,
    );
  },
});
