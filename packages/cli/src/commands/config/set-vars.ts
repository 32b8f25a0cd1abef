import type { Runtime } from '../../command.js';
import { CollisionFields, ErrorFields, graphql, InvalidInputFields, mutate } from '../../graphql.js';
import { ReleaseFields } from '../../views.js';

const SET_CONFIG_VARS = graphql(
  `
  mutation SetConfigVars($input: SetConfigVarsInput!) {
    setConfigVars(input: $input) {
      __typename ... on SetConfigVarsSuccess { release { ...ReleaseFields } }
      ...ErrorFields ...InvalidInputFields ...CollisionFields
    }
  }
`,
  [ReleaseFields, ErrorFields, InvalidInputFields, CollisionFields],
);

/**
 * config:set and config:unset: one release with every change, `null` removing a var.
 * `change` says what changed (`set A, B`); it is the release's reason unless one is given.
 */
export async function setVars(
  ctx: Runtime,
  app: string,
  vars: Record<string, string | null>,
  change: string,
  reason: string | undefined,
): Promise<undefined> {
  const { release } = await mutate(
    ctx,
    SET_CONFIG_VARS,
    { input: { app, vars, reason: reason ?? change } },
    'setConfigVars',
    'SetConfigVarsSuccess',
  );
  // The vars already had these values: no release is made.
  if (ctx.json) return ctx.printJson(release ?? { unchanged: true });
  ctx.print(
    release ? `${app}: ${change} (v${release.version})` : `${app}: no change (the vars already have these values)`,
  );
  return undefined;
}

export const REASON_FLAG = {
  type: 'string',
  value: 'TEXT',
  description: 'why, recorded on the release (what changed, by default)',
} as const;
