import { CliError } from '../../client.js';
import { defineCommand } from '../../command.js';
import { EXIT_CODES } from '../../exit-codes.js';
import { ErrorFields, graphql, InvalidInputFields, mutate } from '../../graphql.js';

const ADD_MEMBER = graphql(
  `
  mutation AddProviderMember($provider: String!, $email: String!, $role: ProviderMemberRole) {
    addProviderMember(provider: $provider, email: $email, role: $role) {
      __typename ... on AddProviderMemberSuccess { data { email role grantedBy } } ...ErrorFields ...InvalidInputFields
    }
  }
`,
  [ErrorFields, InvalidInputFields],
);

const REMOVE_MEMBER = graphql(
  `
  mutation RemoveProviderMember($provider: String!, $email: String!) {
    removeProviderMember(provider: $provider, email: $email) {
      __typename ... on RemoveProviderMemberSuccess { data { email role grantedBy } } ...ErrorFields ...InvalidInputFields
    }
  }
`,
  [ErrorFields, InvalidInputFields],
);

const ROLES = ['member', 'admin'] as const;

/** `--role`: member (sees the portal) or admin (also invites organizations, changes listings). */
function memberRole(value: string | undefined): (typeof ROLES)[number] {
  const role = value ?? 'member';
  if (!(ROLES as readonly string[]).includes(role)) {
    throw new CliError(`--role must be member or admin, not "${role}"`, EXIT_CODES.usage);
  }
  return role as (typeof ROLES)[number];
}

/** One line a member. */
const memberLines = (members: readonly { email: string; role: string; grantedBy: string }[]) =>
  members.length === 0
    ? ['no members']
    : members.map((m) => `${m.email}  ${m.role}${m.grantedBy === 'claim' ? '  (from the sign-in claim)' : ''}`);

/** `annex admin providers:members:add PROVIDER EMAIL [--role admin]` */
export const addMember = defineCommand({
  id: 'admin providers:members:add',
  summary: "let a person see a provider's portal in the console (admin token)",
  args: {
    PROVIDER: { description: "the provider's slug" },
    EMAIL: { description: 'the email they signed in to the console with (once, at least)' },
  },
  flags: {
    role: {
      type: 'string',
      value: 'ROLE',
      description: 'member (default: sees the portal) or admin (also invites organizations)',
    },
  },
  examples: ['admin providers:members:add acme-db ann@acme.example --role admin'],
  async run(ctx) {
    const result = await mutate(
      ctx,
      ADD_MEMBER,
      { provider: ctx.args.PROVIDER, email: ctx.args.EMAIL, role: memberRole(ctx.flags.role) },
      'addProviderMember',
      'AddProviderMemberSuccess',
    );
    if (ctx.json) return ctx.printJson(result.data);
    for (const line of memberLines(result.data)) ctx.print(line);
  },
});

/** `annex admin providers:members:remove PROVIDER EMAIL` */
export const removeMember = defineCommand({
  id: 'admin providers:members:remove',
  summary: "stop a person seeing a provider's portal; their console sessions lose it at once (admin token)",
  args: {
    PROVIDER: { description: "the provider's slug" },
    EMAIL: { description: 'the email they signed in with' },
  },
  flags: {},
  examples: ['admin providers:members:remove acme-db ann@acme.example'],
  async run(ctx) {
    const result = await mutate(
      ctx,
      REMOVE_MEMBER,
      { provider: ctx.args.PROVIDER, email: ctx.args.EMAIL },
      'removeProviderMember',
      'RemoveProviderMemberSuccess',
    );
    if (ctx.json) return ctx.printJson(result.data);
    for (const line of memberLines(result.data)) ctx.print(line);
  },
});
