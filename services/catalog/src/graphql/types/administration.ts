import type { TokenKind } from '@annex/platform';
import { ALL_SCOPES, PROVIDER_SCOPES } from '@annex/platform';
import type { ApiTokenRecord, Organization } from '../../db/identity.repository.js';
import {
  type CreatedPlatform,
  createOrganization,
  createPlatform,
  createProvider,
  createToken,
  revokeApiToken,
} from '../../domain/administration.js';
import { InvalidInputError, NotAuthorizedError, NotFoundError, SlugTakenError } from '../../domain/errors.js';
import type { Provider } from '../../domain/model.js';
import { builder } from '../builder.js';
import { ProviderRef } from '../refs.js';
import { TokenKindEnum } from './enums.js';

const OrganizationRef = builder.objectRef<Organization>('Organization').implement({
  description: 'A customer organization; private plans list the organizations that may see them.',
  fields: (t) => ({ id: t.exposeID('id'), slug: t.exposeString('slug'), name: t.exposeString('name') }),
});

const PlatformCreatedRef = builder.objectRef<CreatedPlatform>('PlatformCreated').implement({
  description: 'A new platform and its OSB basic-auth credentials. The password is shown only this once.',
  fields: (t) => ({
    id: t.exposeID('id'),
    slug: t.exposeString('slug'),
    name: t.exposeString('name'),
    organizations: t.exposeStringList('organizations'),
    osbUsername: t.exposeString('osbUsername'),
    osbPassword: t.exposeString('osbPassword'),
  }),
});

const ProviderCreatedRef = builder
  .objectRef<{ provider: Provider; token: string; tokenId: string }>('ProviderCreated')
  .implement({
    description: 'A new provider and a token to publish its manifest. The token is shown only this once.',
    fields: (t) => ({
      provider: t.field({ type: ProviderRef, resolve: (created) => created.provider }),
      token: t.exposeString('token'),
      tokenId: t.exposeID('tokenId'),
    }),
  });

const ApiTokenCreatedRef = builder
  .objectRef<{ id: string; token: string; prefix: string; kind: TokenKind }>('ApiTokenCreated')
  .implement({
    description: 'A new API token. The token is shown only this once; only its hash is stored.',
    fields: (t) => ({
      id: t.exposeID('id'),
      token: t.exposeString('token'),
      prefix: t.exposeString('prefix'),
      kind: t.expose('kind', { type: TokenKindEnum }),
    }),
  });

const ApiTokenRevokedRef = builder.objectRef<ApiTokenRecord>('ApiTokenRevoked').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    prefix: t.exposeString('prefix'),
    kind: t.expose('kind', { type: TokenKindEnum }),
    revokedAt: t.field({ type: 'DateTime', resolve: (token) => token.revokedAt ?? new Date() }),
  }),
});

const adminErrors = [NotAuthorizedError, InvalidInputError, SlugTakenError] as const;

builder.mutationFields((t) => ({
  createOrganization: t.field({
    type: OrganizationRef,
    description: 'Admin only.',
    args: { slug: t.arg.string({ required: true }), name: t.arg.string({ required: true }) },
    errors: { types: [...adminErrors], union: { name: 'CreateOrganizationResult' } },
    resolve: (_root, args, ctx) => createOrganization(ctx.db, ctx.principal, args),
  }),
  createPlatform: t.field({
    type: PlatformCreatedRef,
    description: 'Admin only. Returns the OSB basic-auth password once; only its scrypt hash is stored.',
    args: {
      slug: t.arg.string({ required: true }),
      name: t.arg.string({ required: true }),
      organizations: t.arg.stringList({ required: true, description: 'Slugs of the organizations it acts for.' }),
    },
    errors: { types: [...adminErrors], union: { name: 'CreatePlatformResult' } },
    resolve: (_root, args, ctx) => createPlatform(ctx.db, ctx.principal, args),
  }),
  createProvider: t.field({
    type: ProviderCreatedRef,
    description: 'Admin only. Returns a provider token (once) that publishes this provider only.',
    args: { slug: t.arg.string({ required: true }), name: t.arg.string({ required: true }) },
    errors: { types: [...adminErrors], union: { name: 'CreateProviderResult' } },
    resolve: (_root, args, ctx) => createProvider(ctx.db, ctx.principal, args),
  }),
  createApiToken: t.field({
    type: ApiTokenCreatedRef,
    description:
      'Admin only. An org token needs `organization`, a platform token `platform`, a provider token `provider` (slugs).',
    args: {
      kind: t.arg({ type: TokenKindEnum, required: true }),
      name: t.arg.string({ required: true }),
      scopes: t.arg.stringList({
        description: `What the token may do. Org and platform tokens: ${ALL_SCOPES.join(', ')} (a :write scope implies its :read, except config:write); none gives them every scope but config:read. Provider tokens: ${Object.keys(PROVIDER_SCOPES).join(', ')} (none gives all of them). Admin tokens have every scope. Unknown names are refused.`,
      }),
      organization: t.arg.string(),
      platform: t.arg.string(),
      provider: t.arg.string(),
    },
    errors: { types: [...adminErrors, NotFoundError], union: { name: 'CreateApiTokenResult' } },
    resolve: (_root, args, ctx) => createToken(ctx.db, ctx.principal, args),
  }),
  revokeApiToken: t.field({
    type: ApiTokenRevokedRef,
    description: 'Admin only. The token stops working at once.',
    args: { id: t.arg.id({ required: true }) },
    errors: { types: [NotAuthorizedError, NotFoundError], union: { name: 'RevokeApiTokenResult' } },
    resolve: (_root, args, ctx) => revokeApiToken(ctx.db, ctx.principal, String(args.id)),
  }),
}));
