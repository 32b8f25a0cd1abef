import { appCommands } from './apps.js';
import { billingCommands } from './billing.js';
import { CliError } from './client.js';
import { arg, type Command, ERROR, INVALID_INPUT, many, mutate, one } from './context.js';
import { money, table } from './output.js';

export type { Command, CommandContext } from './context.js';

const MANIFEST_INVALID = '... on ManifestInvalid { problems { path message } }';

export const commands: Record<string, Command> = {
  marketplace: {
    usage: 'annex marketplace [--category C] [--search TEXT] [--free]',
    summary: 'list the services in the catalog, with their plans and prices',
    async run(ctx) {
      const category = one(ctx, 'category', false);
      const search = one(ctx, 'search', false);
      const data = await ctx.client().request<{
        services: {
          edges: {
            node: {
              slug: string;
              name: string;
              category: string;
              provider: { slug: string };
              plans: { slug: string; free: boolean; price: { monthly: number; currency: string } }[];
            };
          }[];
        };
      }>(
        `query Marketplace($filter: ServiceFilter) {
          services(filter: $filter, first: 100) {
            edges { node { slug name category provider { slug } plans { slug free price { monthly currency } } } }
          }
        }`,
        {
          filter: {
            ...(category ? { category: category.toUpperCase().replaceAll('-', '_') } : {}),
            ...(search ? { search } : {}),
            ...(ctx.options.free ? { freeOnly: true } : {}),
          },
        },
      );
      const services = data.services.edges.map((e) => e.node);
      if (ctx.json) return ctx.printJson(services);
      ctx.print(
        table(
          services.map((s) => ({
            service: s.slug,
            name: s.name,
            category: s.category.toLowerCase().replaceAll('_', '-'),
            provider: s.provider.slug,
            plans: s.plans
              .map((p) => `${p.slug} (${p.free ? 'free' : `${money(p.price.monthly, p.price.currency)}/mo`})`)
              .join(', '),
          })),
          ['service', 'name', 'category', 'provider', 'plans'],
        ),
      );
    },
  },

  'admin:orgs:create': {
    usage: 'annex admin orgs:create SLUG [--name NAME]',
    summary: 'create an organization (admin token)',
    async run(ctx) {
      const slug = arg(ctx, 0, 'SLUG');
      const result = await mutate<{ __typename: string; id: string; slug: string; name: string }>(
        ctx,
        'createOrganization',
        `mutation($slug: String!, $name: String!) { createOrganization(slug: $slug, name: $name) {
          __typename ... on Organization { id slug name } ${ERROR} ${INVALID_INPUT} } }`,
        { slug, name: one(ctx, 'name', false) ?? slug },
        'Organization',
      );
      if (ctx.json) return ctx.printJson(result);
      ctx.print(`Created organization ${result.slug} (${result.id})`);
    },
  },

  'admin:platforms:create': {
    usage: 'annex admin platforms:create SLUG --org ORG [--org ORG...] [--name NAME]',
    summary: 'create a platform and print its OSB basic-auth credentials once (admin token)',
    async run(ctx) {
      const slug = arg(ctx, 0, 'SLUG');
      const result = await mutate<{
        __typename: string;
        slug: string;
        osbUsername: string;
        osbPassword: string;
        organizations: string[];
      }>(
        ctx,
        'createPlatform',
        `mutation($slug: String!, $name: String!, $orgs: [String!]!) { createPlatform(slug: $slug, name: $name, organizations: $orgs) {
          __typename ... on PlatformCreated { id slug osbUsername osbPassword organizations } ${ERROR} ${INVALID_INPUT} } }`,
        { slug, name: one(ctx, 'name', false) ?? slug, orgs: many(ctx, 'org') },
        'PlatformCreated',
      );
      if (ctx.json) return ctx.printJson(result);
      ctx.print(
        [
          `Created platform ${result.slug} for ${result.organizations.join(', ') || 'no organizations'}.`,
          `OSB basic auth (shown once): ${result.osbUsername}:${result.osbPassword}`,
        ].join('\n'),
      );
    },
  },

  'admin:providers:create': {
    usage: 'annex admin providers:create SLUG [--name NAME]',
    summary: 'create a provider and print its publishing token once (admin token)',
    async run(ctx) {
      const slug = arg(ctx, 0, 'SLUG');
      const result = await mutate<{ __typename: string; token: string; provider: { slug: string } }>(
        ctx,
        'createProvider',
        `mutation($slug: String!, $name: String!) { createProvider(slug: $slug, name: $name) {
          __typename ... on ProviderCreated { token tokenId provider { slug } } ${ERROR} ${INVALID_INPUT} } }`,
        { slug, name: one(ctx, 'name', false) ?? slug },
        'ProviderCreated',
      );
      if (ctx.json) return ctx.printJson(result);
      ctx.print(`Created provider ${result.provider.slug}.\nProvider token (shown once): ${result.token}`);
    },
  },

  'admin:tokens:create': {
    usage:
      'annex admin tokens:create --kind admin|platform|provider|org --name NAME [--org SLUG] [--platform SLUG] [--provider SLUG] [--scope S...]',
    summary: 'create a scoped API token and print it once (admin token)',
    async run(ctx) {
      const kind = one(ctx, 'kind') as string;
      if (!['admin', 'platform', 'provider', 'org'].includes(kind)) {
        throw new CliError(`--kind must be admin, platform, provider or org (got "${kind}")`, 2);
      }
      const result = await mutate<{ __typename: string; id: string; token: string; kind: string }>(
        ctx,
        'createApiToken',
        `mutation($kind: TokenKind!, $name: String!, $org: String, $platform: String, $provider: String, $scopes: [String!]) {
          createApiToken(kind: $kind, name: $name, organization: $org, platform: $platform, provider: $provider, scopes: $scopes) {
            __typename ... on ApiTokenCreated { id kind prefix token } ${ERROR} ${INVALID_INPUT} } }`,
        {
          kind: kind.toUpperCase(),
          name: one(ctx, 'name'),
          org: one(ctx, 'org', false) ?? null,
          platform: one(ctx, 'platform', false) ?? null,
          provider: one(ctx, 'provider', false) ?? null,
          scopes: many(ctx, 'scope'),
        },
        'ApiTokenCreated',
      );
      if (ctx.json) return ctx.printJson(result);
      ctx.print(`Created ${kind} token ${result.id}.\nToken (shown once): ${result.token}`);
    },
  },

  'admin:tokens:revoke': {
    usage: 'annex admin tokens:revoke TOKEN_ID',
    summary: 'revoke an API token at once (admin token)',
    async run(ctx) {
      const id = arg(ctx, 0, 'TOKEN_ID');
      const result = await mutate<{ __typename: string; id: string; prefix: string }>(
        ctx,
        'revokeApiToken',
        `mutation($id: ID!) { revokeApiToken(id: $id) { __typename ... on ApiTokenRevoked { id prefix revokedAt } ${ERROR} } }`,
        { id },
        'ApiTokenRevoked',
      );
      if (ctx.json) return ctx.printJson(result);
      ctx.print(`Revoked token ${result.id} (${result.prefix}…)`);
    },
  },

  'admin:brokers:register': {
    usage:
      'annex admin brokers:register URL --provider SLUG --username USER --password PASS [--name NAME] [--category C]',
    summary: 'list an existing OSB broker’s services in the marketplace (admin token)',
    async run(ctx) {
      const url = arg(ctx, 0, 'URL');
      const category = one(ctx, 'category', false);
      const result = await mutate<{ __typename: string; revision: number; provider: { slug: string } }>(
        ctx,
        'registerOsbBroker',
        `mutation($input: RegisterOsbBrokerInput!) { registerOsbBroker(input: $input) {
          __typename ... on ManifestPublished { revision unchanged provider { slug } } ${ERROR} ${INVALID_INPUT} ${MANIFEST_INVALID} } }`,
        {
          input: {
            url,
            providerSlug: one(ctx, 'provider'),
            providerName: one(ctx, 'name', false) ?? null,
            username: one(ctx, 'username'),
            password: one(ctx, 'password'),
            ...(category ? { defaultCategory: category.toUpperCase().replaceAll('-', '_') } : {}),
          },
        },
        'ManifestPublished',
      );
      if (ctx.json) return ctx.printJson(result);
      ctx.print(`Registered ${url} as provider ${result.provider.slug} (revision ${result.revision}).`);
    },
  },

  'admin:brokers:refresh': {
    usage: 'annex admin brokers:refresh PROVIDER_SLUG',
    summary: 're-read a registered OSB broker’s catalog (admin token)',
    async run(ctx) {
      const slug = arg(ctx, 0, 'PROVIDER_SLUG');
      const result = await mutate<{ __typename: string; revision: number; unchanged: boolean }>(
        ctx,
        'refreshOsbBroker',
        `mutation($slug: String!) { refreshOsbBroker(providerSlug: $slug) {
          __typename ... on ManifestPublished { revision unchanged provider { slug } } ${ERROR} ${MANIFEST_INVALID} } }`,
        { slug },
        'ManifestPublished',
      );
      if (ctx.json) return ctx.printJson(result);
      ctx.print(
        result.unchanged ? `${slug}: unchanged (revision ${result.revision})` : `${slug}: revision ${result.revision}`,
      );
    },
  },
  ...appCommands,
  ...billingCommands,
};
