import type { ProviderMember } from '../../db/provider-members.repository.js';
import { InvalidInputError, NotAuthorizedError, NotFoundError } from '../../domain/errors.js';
import { addProviderMember, providerMembers, removeProviderMember } from '../../domain/provider-members.js';
import { builder } from '../builder.js';
import { ProviderRef } from '../refs.js';
import { asGraphQLError } from './app-errors.js';

// Who works for a provider and sees its portal in the console (docs/provider-portal.md, "Who
// sees it"): admins add and remove them; an `annex_providers` claim at sign-in grants it too.

const MemberRoleEnum = builder.enumType('ProviderMemberRole', {
  description: '`member`: sees the portal (provider:read); `admin`: also invites organizations and changes listings.',
  values: { member: { value: 'member' }, admin: { value: 'admin' } } as const,
});

const ProviderMemberRef = builder.objectRef<ProviderMember>('ProviderMember').implement({
  fields: (t) => ({
    email: t.exposeString('email'),
    name: t.exposeString('name'),
    role: t.field({ type: MemberRoleEnum, resolve: (m) => m.role }),
    grantedBy: t.exposeString('grantedBy', {
      description: '`admin` (added here) or `claim` (the sign-in claim; the next sign-in may change it).',
    }),
    createdAt: t.field({ type: 'DateTime', resolve: (m) => m.createdAt }),
  }),
});

builder.objectFields(ProviderRef, (t) => ({
  members: t.field({
    type: [ProviderMemberRef],
    nullable: true,
    description: "People who see the provider's portal in the console. Admin tokens only.",
    resolve: async (provider, _args, ctx) => {
      try {
        return await providerMembers(ctx.db, ctx.principal, provider.slug);
      } catch (error) {
        throw asGraphQLError(error);
      }
    },
  }),
}));

const errors = [NotAuthorizedError, InvalidInputError, NotFoundError] as const;

builder.mutationFields((t) => ({
  addProviderMember: t.field({
    type: [ProviderMemberRef],
    description:
      "Admin only. Lets a person (by the email they signed in to the console with) see the provider's portal; again with another role changes it. Answers the provider's members.",
    args: {
      provider: t.arg.string({ required: true }),
      email: t.arg.string({ required: true }),
      role: t.arg({ type: MemberRoleEnum, defaultValue: 'member' }),
    },
    errors: {
      types: [...errors],
      union: { name: 'AddProviderMemberResult' },
      result: { name: 'AddProviderMemberSuccess' },
    },
    resolve: (_root, args, ctx) =>
      addProviderMember(ctx.db, ctx.principal, {
        provider: args.provider,
        email: args.email,
        role: args.role ?? 'member',
      }),
  }),
  removeProviderMember: t.field({
    type: [ProviderMemberRef],
    description:
      "Admin only. The person's console sessions stop showing the provider's portal at once. Answers the provider's remaining members.",
    args: { provider: t.arg.string({ required: true }), email: t.arg.string({ required: true }) },
    errors: {
      types: [...errors],
      union: { name: 'RemoveProviderMemberResult' },
      result: { name: 'RemoveProviderMemberSuccess' },
    },
    resolve: (_root, args, ctx) => removeProviderMember(ctx.db, ctx.principal, args),
  }),
}));
