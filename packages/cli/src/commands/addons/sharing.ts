import type { Runtime } from '../../command.js';
import { ERROR, INVALID_INPUT, mutate } from '../../graphql.js';

/** addons:share and addons:unshare: one mutation each, the same input and answer. */
export async function changeSharing(
  ctx: Runtime,
  field: 'shareAddon' | 'unshareAddon',
  success: 'ShareAddonSuccess' | 'UnshareAddonSuccess',
  addon: string,
  organization: string,
): Promise<undefined> {
  const result = await mutate<{ __typename: string; organizations: string[] }>(
    ctx,
    field,
    `mutation($input: ShareAddonInput!) { ${field}(input: $input) {
      __typename ... on ${success} { organizations } ${ERROR} ${INVALID_INPUT} } }`,
    { input: { addon, organization } },
    success,
  );
  if (ctx.json) return ctx.printJson(result.organizations);
  ctx.print(
    result.organizations.length > 0
      ? `${addon} is shared with ${result.organizations.join(', ')}`
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
