import { createContextCache } from '@pothos/core';
import DataLoader from 'dataloader';
import { ForbiddenError } from '../../apps/errors.js';
import { findInvitationsOfServices, findReviewsOfServices } from '../../db/listing.repository.js';
import { InvalidInputError, NotAuthorizedError, NotFoundError, StageConflictError } from '../../domain/errors.js';
import {
  decideListing,
  type InvitationChange,
  inviteToAlpha,
  listingReviews,
  requestGeneralAvailability,
  revokeAlphaInvitation,
} from '../../domain/listing.js';
import type { AlphaInvitation, ListingReview, Service } from '../../domain/model.js';
import { checkProviderAccess } from '../../domain/provider-access.js';
import { builder, type CatalogContext } from '../builder.js';
import { FREE_TEXT } from '../input-text.js';
import { ServiceRef } from '../refs.js';
import { ListingStateEnum } from './enums.js';
import { ErrorInterface } from './errors.js';

// The listing lifecycle (docs/provider-portal.md, "Listing lifecycle"): each service's stage,
// its provider's invitations to ALPHA and requests for GA, and the admins' review queue.

builder.objectType(StageConflictError, {
  name: 'StageConflict',
  description: "The service's listing stage (or the request's state) does not allow this now. Nothing changed.",
  interfaces: [ErrorInterface],
  fields: (t) => ({
    stage: t.field({ type: ListingStateEnum, nullable: true, resolve: (e) => e.stage }),
  }),
});

const ReviewStateEnum = builder.enumType('ListingReviewState', {
  description: 'Where a request for GA stands.',
  values: {
    PENDING: { value: 'pending', description: 'Waiting for an admin.' },
    APPROVED: { value: 'approved', description: 'The service is GA.' },
    REJECTED: { value: 'rejected', description: 'Refused; `reason` says why.' },
    WITHDRAWN: { value: 'withdrawn', description: 'The manifest stopped asking for GA before a decision.' },
  } as const,
});

export const ListingReviewRef = builder.objectRef<ListingReview>('ListingReview').implement({
  description: "A provider's request to move a service to GA, and an admin's decision on it.",
  fields: (t) => ({
    id: t.exposeID('id'),
    service: t.field({
      type: ServiceRef,
      nullable: true,
      description: 'The service (null if the caller may no longer see it).',
      resolve: (review) => review.serviceId,
    }),
    serviceSlug: t.exposeString('serviceSlug'),
    serviceName: t.exposeString('serviceName'),
    providerSlug: t.exposeString('providerSlug'),
    stage: t.expose('stage', { type: ListingStateEnum, description: 'The stage asked for.' }),
    state: t.expose('state', { type: ReviewStateEnum }),
    requestedBy: t.exposeString('requestedBy', { description: '`provider:<token id>` or `admin:<token id>`.' }),
    requestedAt: t.expose('requestedAt', { type: 'DateTime' }),
    reviewedBy: t.exposeString('reviewedBy', { nullable: true }),
    reviewedAt: t.expose('reviewedAt', { type: 'DateTime', nullable: true }),
    reason: t.exposeString('reason', {
      nullable: true,
      description: "The admin's reason (always set on a rejection).",
    }),
  }),
});

const AlphaInvitationRef = builder.objectRef<AlphaInvitation>('AlphaInvitation').implement({
  description: 'An organization invited to see and use an ALPHA service.',
  fields: (t) => ({
    organization: t.exposeString('organization', { description: "The organization's slug." }),
    organizationName: t.exposeString('organizationName'),
    invitedBy: t.exposeString('invitedBy', { description: '`provider:<token id>` or `admin:<token id>`.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

/** A service's own listing data (invitations, requests) is its provider's (provider:read) and the admins'. */
function checkListingReader(ctx: CatalogContext, service: Service): void {
  checkProviderAccess(ctx.principal, service.providerId, 'provider:read', `the listing of service "${service.slug}"`);
}

// One statement each for every service a request asks about.
const invitationsOf = createContextCache(
  (ctx: CatalogContext) =>
    new DataLoader<string, AlphaInvitation[]>(async (ids) => {
      const rows = await findInvitationsOfServices(ctx.db, ids);
      return ids.map((id) => rows.filter((row) => row.serviceId === id));
    }),
);
const reviewsOf = createContextCache(
  (ctx: CatalogContext) =>
    new DataLoader<string, ListingReview[]>(async (ids) => {
      const rows = await findReviewsOfServices(ctx.db, ids);
      return ids.map((id) => rows.filter((row) => row.serviceId === id));
    }),
);

builder.objectFields(ServiceRef, (t) => ({
  stage: t.expose('stage', {
    type: ListingStateEnum,
    description:
      'ALPHA: seen only by invited organizations; BETA: public, marked beta; GA: generally available (an admin approved it); DEPRECATED: listed, but no new add-ons (existing ones keep working).',
  }),
  alphaInvitations: t.field({
    type: [AlphaInvitationRef],
    description: "The organizations invited to this service while it is ALPHA. Its provider's token or admins only.",
    errors: { types: [NotAuthorizedError, ForbiddenError], union: { name: 'ServiceAlphaInvitationsResult' } },
    resolve: (service, _args, ctx) => {
      checkListingReader(ctx, service);
      return invitationsOf(ctx).load(service.id);
    },
  }),
  listingReviews: t.field({
    type: [ListingReviewRef],
    description:
      "This service's requests for GA, newest first, with the admins' decisions and reasons. Its provider's token or admins only.",
    errors: { types: [NotAuthorizedError, ForbiddenError], union: { name: 'ServiceListingReviewsResult' } },
    resolve: (service, _args, ctx) => {
      checkListingReader(ctx, service);
      return reviewsOf(ctx).load(service.id);
    },
  }),
}));

const InvitationChangeRef = builder.objectRef<InvitationChange>('AlphaInvitationChange').implement({
  fields: (t) => ({
    invitation: t.field({ type: AlphaInvitationRef, resolve: (change) => change.invitation }),
    service: t.field({ type: ServiceRef, resolve: (change) => change.invitation.serviceId }),
    changed: t.exposeBoolean('changed', {
      description: 'False when nothing changed: already invited, or (revoking) not invited.',
    }),
  }),
});

const AlphaInvitationInput = builder.inputType('AlphaInvitationInput', {
  fields: (t) => ({
    service: t.string({ required: true, description: "The service's slug." }),
    organization: t.string({ required: true, description: "The organization's slug." }),
  }),
});

const providerListingErrors = [NotAuthorizedError, ForbiddenError, NotFoundError] as const;

builder.mutationFields((t) => ({
  inviteToAlpha: t.field({
    type: InvitationChangeRef,
    description:
      'Invites an organization to an ALPHA service: it sees the service and may create add-ons of it. Idempotent. The provider token of the service (provider:write) or an admin.',
    args: { input: t.arg({ type: AlphaInvitationInput, required: true }) },
    errors: { types: [...providerListingErrors], union: { name: 'InviteToAlphaResult' } },
    resolve: (_root, { input }, ctx) => inviteToAlpha(ctx.db, ctx.principal, input),
  }),
  revokeAlphaInvitation: t.field({
    type: InvitationChangeRef,
    description:
      "Withdraws an organization's invitation to an ALPHA service; its existing add-ons keep working. The provider token of the service (provider:write) or an admin.",
    args: { input: t.arg({ type: AlphaInvitationInput, required: true }) },
    errors: { types: [...providerListingErrors], union: { name: 'RevokeAlphaInvitationResult' } },
    resolve: (_root, { input }, ctx) => revokeAlphaInvitation(ctx.db, ctx.principal, input),
  }),
  requestGeneralAvailability: t.field({
    type: ListingReviewRef,
    description:
      'Asks the admins to move a service to GA; answers the pending request (new or already filed). The provider token of the service (provider:write) or an admin.',
    args: { service: t.arg.string({ required: true, description: "The service's slug." }) },
    errors: {
      types: [...providerListingErrors, StageConflictError],
      union: { name: 'RequestGeneralAvailabilityResult' },
    },
    resolve: (_root, args, ctx) => requestGeneralAvailability(ctx.db, ctx.principal, args.service),
  }),
  approveListing: t.field({
    type: ListingReviewRef,
    description: 'Approves a pending request for GA: the service becomes GA. Admin only.',
    args: {
      review: t.arg.id({ required: true }),
      reason: t.arg.string({ extensions: FREE_TEXT }),
    },
    errors: {
      types: [NotAuthorizedError, NotFoundError, InvalidInputError, StageConflictError],
      union: { name: 'ApproveListingResult' },
    },
    resolve: (_root, args, ctx) =>
      decideListing(ctx.db, ctx.principal, {
        review: String(args.review),
        decision: 'approved',
        reason: args.reason ?? null,
      }),
  }),
  rejectListing: t.field({
    type: ListingReviewRef,
    description:
      'Rejects a pending request for GA with a reason the provider sees; the service keeps its stage. Admin only.',
    args: {
      review: t.arg.id({ required: true }),
      reason: t.arg.string({ required: true, extensions: FREE_TEXT }),
    },
    errors: {
      types: [NotAuthorizedError, NotFoundError, InvalidInputError, StageConflictError],
      union: { name: 'RejectListingResult' },
    },
    resolve: (_root, args, ctx) =>
      decideListing(ctx.db, ctx.principal, { review: String(args.review), decision: 'rejected', reason: args.reason }),
  }),
}));

builder.queryField('listingReviews', (t) =>
  t.field({
    type: [ListingReviewRef],
    description: "Requests for GA, oldest first: the admins' review queue (default: PENDING). Admin only.",
    args: { state: t.arg({ type: ReviewStateEnum, description: 'Default PENDING; null for every state.' }) },
    errors: { types: [NotAuthorizedError], union: { name: 'ListingReviewsResult' } },
    resolve: (_root, args, ctx) =>
      listingReviews(ctx.db, ctx.principal, args.state === undefined ? 'pending' : (args.state ?? null)),
  }),
);
