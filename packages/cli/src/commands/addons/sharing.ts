import type { Runtime } from '../../command.js';
import { ErrorFields, graphql, InvalidInputFields, mutate } from '../../graphql.js';

const SHARE_ADDON = graphql(
  `
  mutation ShareAddon($input: ShareAddonInput!) {
    shareAddon(input: $input) { __typename ... on ShareAddonSuccess { organizations } ...ErrorFields ...InvalidInputFields }
  }
`,
  [ErrorFields, InvalidInputFields],
);
const UNSHARE_ADDON = graphql(
  `
  mutation UnshareAddon($input: ShareAddonInput!) {
    unshareAddon(input: $input) {
      __typename ... on UnshareAddonSuccess { organizations } ...ErrorFields ...InvalidInputFields
    }
  }
`,
  [ErrorFields, InvalidInputFields],
);

/** addons:share and addons:unshare: the same input, and the same answer (who it is shared with now). */
export async function changeSharing(
  ctx: Runtime,
  share: boolean,
  addon: string,
  organization: string,
): Promise<undefined> {
  const variables = { input: { addon, organization } };
  const { organizations } = share
    ? await mutate(ctx, SHARE_ADDON, variables, 'shareAddon', 'ShareAddonSuccess')
    : await mutate(ctx, UNSHARE_ADDON, variables, 'unshareAddon', 'UnshareAddonSuccess');
  if (ctx.json) return ctx.printJson(organizations);
  ctx.print(
    organizations.length > 0
      ? `${addon} is shared with ${organizations.join(', ')}`
      : `${addon} is shared with no other organization`,
  );
  return undefined;
}

export const SHARED_ORG_FLAG = {
  type: 'string',
  value: 'ORG',
  required: true,
  description: 'the other organization (slug)',
} as const;
