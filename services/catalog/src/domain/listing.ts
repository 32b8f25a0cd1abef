import { type DB, OPERATION_SCOPES, type Principal } from '@annex/platform';
import type { Kysely } from 'kysely';
import { findOrganizationsBySlugs } from '../db/identity.repository.js';
import {
  decideReview,
  deleteInvitation,
  filePendingReview,
  findInvitationsOfServices,
  findReviews,
  insertInvitation,
  lockReview,
  setServiceStage,
  touchProvider,
} from '../db/listing.repository.js';
import { findVisibleService } from '../db/services.repository.js';
import { InvalidInputError, NotAuthorizedError, NotFoundError, StageConflictError } from './errors.js';
import type { AlphaInvitation, ListingReview, Service } from './model.js';
import { checkProviderAccess } from './provider-access.js';
import { viewerOf } from './visibility.js';

// The listing lifecycle (docs/provider-portal.md, "Listing lifecycle"): a provider invites
// organizations to its ALPHA services and asks for GA; admins approve or reject. Stages the
// manifest may set by itself (alpha, beta, deprecated) are publishing's (publishing.ts).

/** Who did it, as the rows record it. */
function actorLabel(actor: Principal): string {
  if (actor.kind === 'admin') return `admin:${actor.tokenId}`;
  if (actor.kind === 'provider') return `provider:${actor.tokenId}`;
  return actor.kind;
}

/**
 * The service `slug` for its provider (with `operation`'s scope) or an admin. A service the
 * caller cannot see is NotFound, as for anyone else; another provider's is NotAuthorized.
 */
async function ownService(
  db: Kysely<DB>,
  actor: Principal,
  slug: string,
  operation: 'Mutation.inviteToAlpha' | 'Mutation.revokeAlphaInvitation' | 'Mutation.requestGeneralAvailability',
): Promise<Service> {
  if (actor.kind !== 'admin' && actor.kind !== 'provider') {
    throw new NotAuthorizedError("this needs the service's provider token (or an admin token)");
  }
  const service = await findVisibleService(db, viewerOf(actor), { slug });
  if (!service) throw new NotFoundError('service', slug);
  checkProviderAccess(actor, service.providerId, OPERATION_SCOPES[operation], `service "${slug}"`);
  return service;
}

/** The organization named by `slug`; NotFound naming it when there is none. */
async function organizationBySlug(db: Kysely<DB>, slug: string) {
  const [organization] = await findOrganizationsBySlugs(db, [slug]);
  if (!organization) throw new NotFoundError('organization', slug);
  return organization;
}

export interface InvitationChange {
  invitation: AlphaInvitation;
  /** False when nothing changed (already invited, or not invited to revoke). */
  changed: boolean;
}

/**
 * Invites an organization to an ALPHA service: it sees the service in the catalog and may
 * create add-ons of it. Inviting again changes nothing. An invitation may be made in any
 * stage; it matters while the service is ALPHA.
 *
 * @example
 * const { invitation } = await inviteToAlpha(db, providerPrincipal, { service: 'vectors', organization: 'acme' });
 */
export async function inviteToAlpha(
  db: Kysely<DB>,
  actor: Principal,
  input: { service: string; organization: string },
): Promise<InvitationChange> {
  const service = await ownService(db, actor, input.service, 'Mutation.inviteToAlpha');
  const organization = await organizationBySlug(db, input.organization);
  return db.transaction().execute(async (trx) => {
    const changed = await insertInvitation(trx, service.id, organization.id, actorLabel(actor));
    if (changed) await touchProvider(trx, service.providerId);
    const invitations = await findInvitationsOfServices(trx, [service.id]);
    const invitation = invitations.find((i) => i.organization === organization.slug);
    if (!invitation) throw new Error(`the invitation of "${organization.slug}" vanished`);
    return { invitation, changed };
  });
}

/** Withdraws an organization's invitation; its existing add-ons keep working. */
export async function revokeAlphaInvitation(
  db: Kysely<DB>,
  actor: Principal,
  input: { service: string; organization: string },
): Promise<InvitationChange> {
  const service = await ownService(db, actor, input.service, 'Mutation.revokeAlphaInvitation');
  const organization = await organizationBySlug(db, input.organization);
  const [before] = (await findInvitationsOfServices(db, [service.id])).filter(
    (i) => i.organization === organization.slug,
  );
  const changed = await db.transaction().execute(async (trx) => {
    const removed = await deleteInvitation(trx, service.id, organization.id);
    if (removed) await touchProvider(trx, service.providerId);
    return removed;
  });
  return {
    invitation: before ?? {
      serviceId: service.id,
      organization: organization.slug,
      organizationName: organization.name,
      invitedBy: actorLabel(actor),
      createdAt: new Date(),
    },
    changed,
  };
}

/**
 * Asks an admin to move a service to GA (the only way there). Answers the pending request,
 * new or already filed. A GA service cannot ask again, a DEPRECATED one must be published
 * with another stage first.
 */
export async function requestGeneralAvailability(
  db: Kysely<DB>,
  actor: Principal,
  serviceSlug: string,
): Promise<ListingReview> {
  const service = await ownService(db, actor, serviceSlug, 'Mutation.requestGeneralAvailability');
  if (service.stage === 'ga') throw new StageConflictError(service.stage, `service "${service.slug}" is GA already`);
  if (service.stage === 'deprecated') {
    throw new StageConflictError(
      service.stage,
      `service "${service.slug}" is deprecated; publish it with another stage before asking for GA`,
    );
  }
  return db.transaction().execute(async (trx) => {
    const review = await filePendingReview(trx, service.id, actorLabel(actor));
    await touchProvider(trx, service.providerId);
    return review;
  });
}

function requireAdmin(actor: Principal, what: string): void {
  if (actor.kind !== 'admin') throw new NotAuthorizedError(`${what} needs an admin token`);
}

/** The admins' queue: requests in `state` (every state when null), oldest first. */
export async function listingReviews(
  db: Kysely<DB>,
  actor: Principal,
  state: ListingReview['state'] | null,
): Promise<ListingReview[]> {
  requireAdmin(actor, 'the listing review queue');
  return findReviews(db, { state });
}

const MAX_REASON = 2000;

/**
 * An admin's decision on a pending request: approving moves the service to GA, rejecting
 * leaves its stage as it is and keeps the reason for the provider to read.
 */
export async function decideListing(
  db: Kysely<DB>,
  actor: Principal,
  input: { review: string; decision: 'approved' | 'rejected'; reason: string | null },
): Promise<ListingReview> {
  requireAdmin(actor, input.decision === 'approved' ? 'approving a listing' : 'rejecting a listing');
  const reason = input.reason?.trim() || null;
  if (input.decision === 'rejected' && !reason) {
    throw new InvalidInputError([{ path: 'reason', message: 'a rejection needs a reason the provider can act on' }]);
  }
  if (reason && reason.length > MAX_REASON) {
    throw new InvalidInputError([{ path: 'reason', message: `must be at most ${MAX_REASON} characters` }]);
  }
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(input.review)) {
    throw new NotFoundError('listing review', input.review);
  }
  return db.transaction().execute(async (trx) => {
    const review = await lockReview(trx, input.review);
    if (!review) throw new NotFoundError('listing review', input.review);
    if (review.state !== 'pending') {
      throw new StageConflictError(
        null,
        `the request for GA of service "${review.serviceSlug}" is ${review.state} already; only a pending one can be decided`,
      );
    }
    await decideReview(trx, review.id, { state: input.decision, by: actorLabel(actor), reason });
    if (input.decision === 'approved') await setServiceStage(trx, review.serviceId, 'ga');
    await touchProvider(trx, review.providerId);
    const decided = await lockReview(trx, review.id);
    if (!decided) throw new Error(`listing review ${review.id} vanished`);
    return decided;
  });
}
