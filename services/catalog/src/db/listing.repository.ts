import type { ListingReviewState, ListingState } from '@annex/platform';
import { sql } from 'kysely';
import type { AlphaInvitation, ListingReview } from '../domain/model.js';
import type { Executor } from './executor.js';

// The listing lifecycle's rows: invitations to ALPHA services and requests for GA with their
// review (docs/provider-portal.md, "Listing lifecycle"). A service's stage is its own column.

export async function setServiceStage(db: Executor, serviceId: string, stage: ListingState): Promise<void> {
  await db.updateTable('services').set({ stage, updated_at: new Date() }).where('id', '=', serviceId).execute();
}

/**
 * Moves the provider's `updated_at`: the catalog's version (what the response cache and the
 * other replicas watch) changes, so an invitation or a new stage is seen at once everywhere.
 */
export async function touchProvider(db: Executor, providerId: string): Promise<void> {
  await db.updateTable('providers').set({ updated_at: new Date() }).where('id', '=', providerId).execute();
}

// --- invitations ---

/** Invites an organization; `false` when it already was (nothing changes). */
export async function insertInvitation(
  db: Executor,
  serviceId: string,
  organizationId: string,
  invitedBy: string,
): Promise<boolean> {
  const row = await db
    .insertInto('service_invitations')
    .values({ service_id: serviceId, organization_id: organizationId, invited_by: invitedBy })
    .onConflict((oc) => oc.columns(['service_id', 'organization_id']).doNothing())
    .returning('service_id')
    .executeTakeFirst();
  return row !== undefined;
}

/** Removes an invitation; `false` when there was none. */
export async function deleteInvitation(db: Executor, serviceId: string, organizationId: string): Promise<boolean> {
  const result = await db
    .deleteFrom('service_invitations')
    .where('service_id', '=', serviceId)
    .where('organization_id', '=', organizationId)
    .executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/** The invitations of these services, with each organization's slug and name, oldest first. */
export async function findInvitationsOfServices(
  db: Executor,
  serviceIds: readonly string[],
): Promise<AlphaInvitation[]> {
  if (serviceIds.length === 0) return [];
  const rows = await db
    .selectFrom('service_invitations as si')
    .innerJoin('organizations as o', 'o.id', 'si.organization_id')
    .select(['si.service_id', 'o.slug', 'o.name', 'si.invited_by', 'si.created_at'])
    .where('si.service_id', 'in', [...serviceIds])
    .orderBy('si.created_at')
    .orderBy('o.slug')
    .execute();
  return rows.map((r) => ({
    serviceId: r.service_id,
    organization: r.slug,
    organizationName: r.name,
    invitedBy: r.invited_by,
    createdAt: r.created_at,
  }));
}

// --- reviews ---

function reviews(db: Executor) {
  return db
    .selectFrom('listing_reviews as r')
    .innerJoin('services as s', 's.id', 'r.service_id')
    .innerJoin('providers as pr', 'pr.id', 's.provider_id')
    .select([
      'r.id',
      'r.service_id',
      's.slug as service_slug',
      's.name as service_name',
      'pr.id as provider_id',
      'pr.slug as provider_slug',
      'r.stage',
      'r.state',
      'r.requested_by',
      'r.requested_at',
      'r.reviewed_by',
      'r.reviewed_at',
      'r.reason',
    ]);
}

type ReviewRow = Awaited<ReturnType<ReturnType<typeof reviews>['executeTakeFirstOrThrow']>>;

function toReview(row: ReviewRow): ListingReview {
  return {
    id: row.id,
    serviceId: row.service_id,
    serviceSlug: row.service_slug,
    serviceName: row.service_name,
    providerId: row.provider_id,
    providerSlug: row.provider_slug,
    stage: row.stage,
    state: row.state,
    requestedBy: row.requested_by,
    requestedAt: row.requested_at,
    reviewedBy: row.reviewed_by,
    reviewedAt: row.reviewed_at,
    reason: row.reason,
  };
}

/**
 * Files a request for GA unless one is pending already; answers the pending request either
 * way (two statements: the insert that may do nothing, and the read).
 */
export async function filePendingReview(db: Executor, serviceId: string, requestedBy: string): Promise<ListingReview> {
  await sql`insert into listing_reviews (service_id, requested_by) values (${serviceId}, ${requestedBy})
    on conflict (service_id) where state = 'pending' do nothing`.execute(db);
  const row = await reviews(db)
    .where('r.service_id', '=', serviceId)
    .where('r.state', '=', 'pending')
    .executeTakeFirstOrThrow();
  return toReview(row);
}

/** Withdraws the pending requests of these services (their manifest no longer asks for GA). */
export async function withdrawPendingReviews(db: Executor, serviceIds: readonly string[], by: string): Promise<void> {
  if (serviceIds.length === 0) return;
  await db
    .updateTable('listing_reviews')
    .set({
      state: 'withdrawn',
      reviewed_by: by,
      reviewed_at: new Date(),
      reason: 'the manifest no longer asks for GA',
    })
    .where('service_id', 'in', [...serviceIds])
    .where('state', '=', 'pending')
    .execute();
}

/** Requests in one state (all when `null`), oldest first: the admins' queue. */
export async function findReviews(
  db: Executor,
  filter: { state: ListingReviewState | null; providerId?: string },
): Promise<ListingReview[]> {
  let query = reviews(db);
  if (filter.state) query = query.where('r.state', '=', filter.state);
  if (filter.providerId) query = query.where('s.provider_id', '=', filter.providerId);
  return (await query.orderBy('r.requested_at').orderBy('r.id').execute()).map(toReview);
}

/** Every request of these services, newest first. */
export async function findReviewsOfServices(db: Executor, serviceIds: readonly string[]): Promise<ListingReview[]> {
  if (serviceIds.length === 0) return [];
  const rows = await reviews(db)
    .where('r.service_id', 'in', [...serviceIds])
    .orderBy('r.requested_at', 'desc')
    .orderBy('r.id')
    .execute();
  return rows.map(toReview);
}

/** A request by id, locked for the rest of the transaction; `undefined` when unknown. */
export async function lockReview(db: Executor, id: string): Promise<ListingReview | undefined> {
  const row = await reviews(db).where('r.id', '=', id).forUpdate('r').executeTakeFirst();
  return row && toReview(row);
}

export async function decideReview(
  db: Executor,
  id: string,
  decision: { state: 'approved' | 'rejected'; by: string; reason: string | null },
): Promise<void> {
  await db
    .updateTable('listing_reviews')
    .set({ state: decision.state, reviewed_by: decision.by, reviewed_at: new Date(), reason: decision.reason })
    .where('id', '=', id)
    .execute();
}
