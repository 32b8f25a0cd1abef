import { findProviderBySlug, findVisibleProviderBySlug, listProviders } from '../../db/providers.repository.js';
import { findVisibleServicesByProviderIds } from '../../db/services.repository.js';
import type { Service } from '../../domain/model.js';
import { builder } from '../builder.js';
import { ProviderRef, ServiceRef } from '../refs.js';
import { ListingStateEnum } from './enums.js';

ProviderRef.implement({
  description:
    'A company offering services in the marketplace; publishes a manifest or is imported from an OSB broker.',
  fields: (t) => ({
    slug: t.exposeString('slug'),
    name: t.exposeString('name'),
    description: t.exposeString('description'),
    supportEmail: t.exposeString('supportEmail', { nullable: true }),
    supportUrl: t.exposeString('supportUrl', { nullable: true }),
    logoUrl: t.exposeString('logoUrl', { nullable: true }),
    listingState: t.expose('listingState', {
      type: ListingStateEnum,
      description:
        "The stage the provider's manifest asks for its services by default; each service's own is `Service.stage` (GA only by an admin's approval).",
    }),
    source: t.string({
      description: '`manifest` (published by the provider) or `osb_broker` (imported from an OSB broker).',
      resolve: (provider) => provider.source,
    }),
    osbAuth: t.string({
      description:
        'How the broker authenticates to the provider: `jwt` (SDK providers) or `basic` (plain OSB brokers).',
      resolve: (provider) => provider.osbAuthKind,
    }),
    osbUrl: t.string({
      description: "The provider's OSB endpoint. Admins only (null for everyone else).",
      nullable: true,
      resolve: (provider, _args, ctx) => (ctx.principal.kind === 'admin' ? provider.osbUrl : null),
    }),
    currentRevision: t.exposeInt('currentRevision', { description: 'The latest published revision (0: none yet).' }),
    services: t.loadableGroup({
      type: ServiceRef,
      description: "The provider's services the caller can see, in manifest order.",
      load: (providerIds: string[], ctx) => findVisibleServicesByProviderIds(ctx.db, ctx.viewer, providerIds),
      group: (service) => (service as Service).providerId,
      resolve: (provider) => provider.id,
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

builder.queryFields((t) => ({
  providers: t.field({
    type: [ProviderRef],
    description: 'Providers with at least one service the caller can see (admins: all), by name.',
    resolve: (_root, _args, ctx) => listProviders(ctx.db, ctx.viewer),
  }),
  provider: t.field({
    type: ProviderRef,
    nullable: true,
    args: { slug: t.arg.string({ required: true }) },
    description:
      "A provider with a service the caller can see (admins: any). A provider's own token always finds its own, services or not, for its portal.",
    resolve: async (_root, args, ctx) => {
      const visible = await findVisibleProviderBySlug(ctx.db, ctx.viewer, args.slug);
      if (visible || ctx.principal.kind !== 'provider') return visible;
      const own = await findProviderBySlug(ctx.db, args.slug);
      return own?.id === ctx.principal.providerId ? own : null;
    },
  }),
}));
