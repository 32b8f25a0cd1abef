import { findReviews } from '../../db/listing.repository.js';
import { InvalidInputError, NotFoundError, OsbBrokerError } from '../../domain/errors.js';
import type { Provider } from '../../domain/model.js';
import { refreshOsbBroker, registerOsbBroker } from '../../domain/osb-import.js';
import { type PublishOutcome, publishManifest } from '../../domain/publishing.js';
import { builder } from '../builder.js';
import { FREE_TEXT } from '../input-text.js';
import { ProviderRef } from '../refs.js';
import { CategoryEnum } from './enums.js';
import { PUBLISH_ERRORS } from './errors.js';
import { ListingReviewRef } from './listing.js';

interface Published {
  revision: number;
  unchanged: boolean;
  provider: Provider;
}

const ManifestPublishedRef = builder.objectRef<Published>('ManifestPublished').implement({
  description: "The provider's catalog now matches the manifest.",
  fields: (t) => ({
    revision: t.exposeInt('revision', { description: 'The revision number (1, 2, ...).' }),
    unchanged: t.exposeBoolean('unchanged', {
      description: 'True when this exact manifest was already the current revision; nothing was written.',
    }),
    provider: t.field({ type: ProviderRef, resolve: (published) => published.provider }),
    pendingReviews: t.field({
      type: [ListingReviewRef],
      description:
        "The provider's requests for GA waiting for an admin. A manifest asking for `ga` files one and lists the service BETA until an admin approves.",
      resolve: (published, _args, ctx) => findReviews(ctx.db, { state: 'pending', providerId: published.provider.id }),
    }),
  }),
});

function unwrap(outcome: PublishOutcome): Published {
  if (!outcome.ok) throw outcome.error;
  return { revision: outcome.revision, unchanged: outcome.unchanged, provider: outcome.provider };
}

const RegisterOsbBrokerInput = builder.inputType('RegisterOsbBrokerInput', {
  fields: (t) => ({
    url: t.string({
      required: true,
      description: 'Base URL of the broker; the catalog is read from {url}/v2/catalog.',
    }),
    username: t.string({ required: true }),
    password: t.string({ required: true, extensions: FREE_TEXT }),
    providerSlug: t.string({ required: true }),
    providerName: t.string(),
    defaultCategory: t.field({
      type: CategoryEnum,
      description: 'For services whose metadata names no category (default OTHER).',
    }),
  }),
});

builder.mutationFields((t) => ({
  publishManifest: t.field({
    type: ManifestPublishedRef,
    description:
      "Publishes a provider's whole manifest as its next revision (provider token for its own provider, or admin token).",
    args: { manifest: t.arg({ type: 'JSON', required: true }) },
    errors: { types: [...PUBLISH_ERRORS], union: { name: 'PublishManifestResult' } },
    resolve: async (_root, args, ctx) =>
      unwrap(
        await publishManifest(ctx.db, ctx.principal, args.manifest, {
          secretBox: ctx.secretBox,
          outbound: ctx.outbound,
        }),
      ),
  }),
  registerOsbBroker: t.field({
    type: ManifestPublishedRef,
    description:
      "Lists an existing OSB broker's services and plans under a provider, read from its GET /v2/catalog. Admin only.",
    args: { input: t.arg({ type: RegisterOsbBrokerInput, required: true }) },
    errors: {
      types: [...PUBLISH_ERRORS, InvalidInputError, OsbBrokerError],
      union: { name: 'RegisterOsbBrokerResult' },
    },
    resolve: async (_root, { input }, ctx) =>
      unwrap(
        await registerOsbBroker(ctx.db, ctx.principal, input, {
          secretBox: ctx.secretBox,
          outbound: ctx.outbound,
        }),
      ),
  }),
  refreshOsbBroker: t.field({
    type: ManifestPublishedRef,
    description: "Re-reads a registered OSB broker's catalog and publishes it. Admin only.",
    args: { providerSlug: t.arg.string({ required: true }) },
    errors: {
      types: [...PUBLISH_ERRORS, InvalidInputError, NotFoundError, OsbBrokerError],
      union: { name: 'RefreshOsbBrokerResult' },
    },
    resolve: async (_root, args, ctx) =>
      unwrap(
        await refreshOsbBroker(ctx.db, ctx.principal, args.providerSlug, {
          secretBox: ctx.secretBox,
          outbound: ctx.outbound,
        }),
      ),
  }),
}));
