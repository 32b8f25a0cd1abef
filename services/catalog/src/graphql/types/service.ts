import { CATEGORIES, type Category } from '@annex/sdk';
import { GraphQLError } from 'graphql';
import {
  countVisibleServices,
  countVisibleServicesByCategory,
  findVisibleService,
  pageVisibleServices,
  type ServiceCursor,
} from '../../db/services.repository.js';
import { searchQuery } from '../../domain/search.js';
import { builder } from '../builder.js';
import { FREE_TEXT } from '../input-text.js';
import { isUuid, PlanRef, ProviderRef, plansOfService, ServiceRef } from '../refs.js';
import { CategoryEnum, StatusEnum } from './enums.js';
import { decodeGlobal } from './plan.js';

ServiceRef.implement({
  description: 'Something a provider offers (a database, a cache, a model API), with one or more plans.',
  fields: (t) => ({
    osbId: t.exposeString('osbId', { description: 'The OSB service id; immutable.' }),
    slug: t.exposeString('slug'),
    name: t.exposeString('name'),
    description: t.exposeString('description'),
    category: t.expose('category', { type: CategoryEnum }),
    tags: t.exposeStringList('tags'),
    bindable: t.exposeBoolean('bindable'),
    planUpdateable: t.exposeBoolean('planUpdateable'),
    instancesRetrievable: t.exposeBoolean('instancesRetrievable'),
    bindingsRetrievable: t.exposeBoolean('bindingsRetrievable'),
    allowContextUpdates: t.exposeBoolean('allowContextUpdates'),
    requires: t.exposeStringList('requires', {
      description: 'OSB permissions the service needs: syslog_drain, route_forwarding, volume_mount.',
    }),
    documentationUrl: t.exposeString('documentationUrl', { nullable: true }),
    configVars: t.exposeStringList('configVars', {
      description: 'Config vars an attachment sets in the app, e.g. DATABASE_URL.',
    }),
    regions: t.exposeStringList('regions'),
    status: t.expose('status', { type: StatusEnum }),
    deprecated: t.boolean({ resolve: (service) => service.status === 'deprecated' }),
    metadata: t.field({ type: 'JSON', resolve: (service) => service.metadata }),
    provider: t.field({ type: ProviderRef, resolve: (service) => service.providerId }),
    plans: t.field({
      type: [PlanRef],
      description: 'The plans the caller can see, in manifest order.',
      resolve: (service, _args, ctx) => plansOfService(ctx).load(service.id),
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

const ServiceFilter = builder.inputType('ServiceFilter', {
  fields: (t) => ({
    category: t.field({ type: CategoryEnum }),
    tags: t.stringList({ description: 'Services carrying every one of these tags.' }),
    search: t.string({
      description: 'Full-text search over name, description and tags; the last word matches as a prefix.',
      extensions: FREE_TEXT,
    }),
    region: t.string(),
    freeOnly: t.boolean({ description: 'Only services with a free plan the caller can see.' }),
    provider: t.string({ description: "A provider's slug." }),
  }),
});

const ServiceConnection = builder.connectionObject(
  {
    type: ServiceRef,
    name: 'ServiceConnection',
    fields: (t) => ({
      totalCount: t.int({
        description: 'How many services match the filter (one more SQL statement; ask only when needed).',
        resolve: (connection) => (connection as unknown as { totalCount: () => Promise<number> }).totalCount(),
      }),
    }),
  },
  { name: 'ServiceEdge' },
);

const MAX_PAGE = 100;

function encodeCursor(cursor: ServiceCursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString('base64url');
}

function decodeCursor(text: string, searching: boolean): ServiceCursor {
  try {
    const value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Record<string, unknown>;
    if (typeof value.name === 'string' && typeof value.id === 'string' && isUuid(value.id)) {
      if (!searching) return { name: value.name, id: value.id };
      if (typeof value.rank === 'number') return { rank: value.rank, name: value.name, id: value.id };
    }
  } catch {
    // fall through
  }
  throw new GraphQLError('after: not a cursor of this listing (cursors depend on the filter)', {
    extensions: { code: 'BAD_USER_INPUT' },
  });
}

builder.queryFields((t) => ({
  services: t.field({
    type: ServiceConnection,
    description:
      'Services the caller can see, by name (then id); with a search, best match first. Forward pagination with first/after.',
    args: {
      filter: t.arg({ type: ServiceFilter }),
      first: t.arg.int({ description: `Page size, 1-${MAX_PAGE} (default 20).` }),
      after: t.arg.string({ description: 'endCursor of the previous page.' }),
    },
    resolve: async (_root, args, ctx) => {
      const first = args.first ?? 20;
      if (first < 1 || first > MAX_PAGE) {
        throw new GraphQLError(`first: must be between 1 and ${MAX_PAGE}`, { extensions: { code: 'BAD_USER_INPUT' } });
      }
      const filter = args.filter ?? {};
      const tsquery = filter.search ? searchQuery(filter.search) : null;
      const emptyPage = { hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null };
      // A search of only punctuation matches nothing rather than everything.
      if (filter.search && !tsquery) return { edges: [], pageInfo: emptyPage, totalCount: async () => 0 };
      const after = args.after ? decodeCursor(args.after, tsquery !== null) : null;
      const serviceFilter = {
        category: filter.category ?? null,
        tags: filter.tags ?? null,
        tsquery,
        region: filter.region ?? null,
        freeOnly: filter.freeOnly ?? null,
        providerSlug: filter.provider ?? null,
      };
      const { services: rows, providers: pageProviders } = await pageVisibleServices(
        ctx.db,
        ctx.viewer,
        serviceFilter,
        {
          limit: first + 1,
          after,
        },
      );
      const page = rows.slice(0, first);
      // The page's statement read each service's provider and plans too; plans also ask
      // their service for inherited flags. All of it is already in hand.
      const services = ServiceRef.getDataloader(ctx);
      const providers = ProviderRef.getDataloader(ctx);
      const plans = plansOfService(ctx);
      for (const provider of pageProviders) providers.prime(provider.id, provider);
      for (const row of page) {
        services.prime(row.service.id, row.service);
        plans.prime(row.service.id, row.plans);
      }
      const edges = page.map(({ service, rank }) => ({
        cursor: encodeCursor(
          rank === null ? { name: service.name, id: service.id } : { rank, name: service.name, id: service.id },
        ),
        node: service,
      }));
      return {
        edges,
        pageInfo: {
          hasNextPage: rows.length > first,
          hasPreviousPage: after !== null,
          startCursor: edges[0]?.cursor ?? null,
          endCursor: edges.at(-1)?.cursor ?? null,
        },
        totalCount: () => countVisibleServices(ctx.db, ctx.viewer, serviceFilter),
      };
    },
  }),
  service: t.field({
    type: ServiceRef,
    nullable: true,
    description: 'A service by slug, or by id (global id or OSB id); null when the caller may not see it.',
    args: { slug: t.arg.string(), id: t.arg.id() },
    resolve: async (_root, args, ctx) => {
      if ((args.slug == null) === (args.id == null)) {
        throw new GraphQLError('service: pass exactly one of slug or id', { extensions: { code: 'BAD_USER_INPUT' } });
      }
      if (args.slug != null) return findVisibleService(ctx.db, ctx.viewer, { slug: args.slug });
      const id = String(args.id);
      const global = decodeGlobal(id);
      if (global?.typename === 'Service') return isUuid(global.id) ? global.id : null;
      return findVisibleService(ctx.db, ctx.viewer, { osbId: id });
    },
  }),
}));

const CategoryRef = builder.objectRef<{ category: Category; serviceCount: number }>('Category').implement({
  fields: (t) => ({
    id: t.expose('category', { type: CategoryEnum }),
    slug: t.string({ resolve: (c) => c.category }),
    serviceCount: t.exposeInt('serviceCount', { description: 'Services in this category the caller can see.' }),
  }),
});

builder.queryField('categories', (t) =>
  t.field({
    type: [CategoryRef],
    description: 'Every category, with how many services the caller can see in each.',
    resolve: async (_root, _args, ctx) => {
      const counts = new Map(
        (await countVisibleServicesByCategory(ctx.db, ctx.viewer)).map((c) => [c.category, c.serviceCount]),
      );
      return CATEGORIES.map((category) => ({ category, serviceCount: counts.get(category) ?? 0 }));
    },
  }),
);
