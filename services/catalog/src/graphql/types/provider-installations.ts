import type { Installation } from '@annex/contracts/v1';
import { GraphQLError } from 'graphql';
import { builder } from '../builder.js';
import { ProviderRef } from '../refs.js';
import { orGraphQLError } from './app-errors.js';
import { AddonStateEnum } from './apps.js';
import { requireProviderAccess } from './provider-access.js';

// A provider's installations (docs/provider-portal.md, "Installations"), read from the
// broker with the caller's own token: its add-ons with nothing of the organization but its
// name and apps count.

const MAX_PAGE = 100;

const InstallationOrganizationRef = builder
  .objectRef<Installation['organization']>('InstallationOrganization')
  .implement({
    description: 'What a provider sees of an organization using its service: the name and how many apps it has.',
    fields: (t) => ({ name: t.exposeString('name'), apps: t.exposeInt('apps') }),
  });

const InstallationRef = builder.objectRef<Installation>('Installation').implement({
  description: "An add-on of one of the provider's services, as the provider sees it.",
  fields: (t) => ({
    id: t.exposeID('id', { description: "The add-on's id (also the instance id the broker sent the provider)." }),
    name: t.exposeString('name'),
    service: t.exposeString('service', { description: 'Slug.' }),
    plan: t.exposeString('plan', { description: 'Slug.' }),
    state: t.field({ type: AddonStateEnum, resolve: (i) => i.state }),
    region: t.exposeString('region', {
      nullable: true,
      description: "The plan's region when it offers exactly one (Annex records no region per add-on).",
    }),
    organization: t.field({ type: InstallationOrganizationRef, resolve: (i) => i.organization }),
    lastError: t.exposeString('lastError', { nullable: true }),
    createdAt: t.field({ type: 'DateTime', resolve: (i) => new Date(i.createdAt) }),
    updatedAt: t.field({ type: 'DateTime', resolve: (i) => new Date(i.updatedAt) }),
    destroyedAt: t.field({
      type: 'DateTime',
      nullable: true,
      resolve: (i) => (i.destroyedAt ? new Date(i.destroyedAt) : null),
    }),
  }),
});

const InstallationConnection = builder.connectionObject(
  {
    type: InstallationRef,
    name: 'InstallationConnection',
    fields: (t) => ({
      totalCount: t.int({
        description: 'Installations matching the filters, every page together.',
        resolve: (connection) => (connection as unknown as { totalCount: number }).totalCount,
      }),
    }),
  },
  { name: 'InstallationEdge' },
);

const ActiveDayRef = builder.objectRef<{ day: string; active: number }>('ActiveInstallationsDay').implement({
  fields: (t) => ({
    day: t.exposeString('day', { description: '`YYYY-MM-DD` (UTC).' }),
    active: t.exposeInt('active', { description: 'Add-ons live at the end of the day.' }),
  }),
});

builder.objectFields(ProviderRef, (t) => ({
  installations: t.field({
    type: InstallationConnection,
    nullable: true,
    description:
      "The provider's add-ons, newest first; forward pagination with first/after. The provider's token (provider:read) or an admin's.",
    args: {
      first: t.arg.int({ description: `Page size, 1-${MAX_PAGE} (default 20).` }),
      after: t.arg.string({ description: 'endCursor of the previous page.' }),
      plan: t.arg.string({ description: 'Only add-ons on this plan (slug).' }),
      state: t.arg({ type: AddonStateEnum, description: 'Only add-ons in this state.' }),
    },
    resolve: (provider, args, ctx) => {
      requireProviderAccess(ctx, provider, 'provider:read');
      const first = args.first ?? 20;
      if (first < 1 || first > MAX_PAGE) {
        throw new GraphQLError(`first: must be between 1 and ${MAX_PAGE}`, { extensions: { code: 'BAD_USER_INPUT' } });
      }
      return orGraphQLError(async () => {
        const page = await ctx.broker.providerInstallations(provider.slug, {
          first,
          after: args.after,
          plan: args.plan,
          state: args.state,
        });
        const edges = page.installations.map((node) => ({ cursor: node.cursor, node }));
        return {
          edges,
          pageInfo: {
            hasNextPage: page.nextCursor !== null,
            hasPreviousPage: Boolean(args.after),
            startCursor: edges[0]?.cursor ?? null,
            endCursor: edges.at(-1)?.cursor ?? null,
          },
          totalCount: page.totalCount,
        };
      });
    },
  }),
  activeInstallations: t.field({
    type: [ActiveDayRef],
    nullable: true,
    description: 'Live add-ons at the end of each of the last `days` days (UTC), oldest first. As `installations`.',
    args: { days: t.arg.int({ description: '1-366 (default 30).' }) },
    resolve: (provider, args, ctx) => {
      requireProviderAccess(ctx, provider, 'provider:read');
      return orGraphQLError(
        async () => (await ctx.broker.providerInstallationActivity(provider.slug, args.days ?? 30)).days,
      );
    },
  }),
}));
