import type { WebhookDeliveriesTable } from '@annex/platform';
import { type Insertable, type Selectable, sql } from 'kysely';
import type { Executor } from '../../shared/db/executor.js';

// A platform's webhook settings (its row in `platforms`) and the webhook delivery rows:
// enqueue, lease, record an attempt, list, redeliver.

/** The built-in platform of the apps layer: it is not a receiver of anything. */
const BUILT_IN_PLATFORM = 'annex-apps';

export type DeliveryRow = Selectable<WebhookDeliveriesTable>;
export type NewDeliveryRow = Insertable<WebhookDeliveriesTable>;

// ── Platform webhook settings ─────────────────────────────────────────────────────────

/**
 * Sets a platform's webhook URL and sealed secret, dropping any previous secret; never the
 * built-in platform's. Returns whether a platform was changed.
 */
export async function setPlatformWebhook(
  db: Executor,
  platformId: string,
  url: string,
  secretSealed: string,
): Promise<boolean> {
  const row = await db
    .updateTable('platforms')
    .set({
      webhook_url: url,
      webhook_secret_sealed: secretSealed,
      webhook_previous_secret_sealed: null,
      webhook_previous_secret_expires_at: null,
    })
    .where('id', '=', platformId)
    .where('slug', '<>', BUILT_IN_PLATFORM)
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * Gives a platform that has a webhook a new sealed secret; the current one becomes the
 * previous secret for `overlapSeconds` (0: it is dropped). Undefined when the platform has no
 * webhook.
 */
export async function replacePlatformWebhookSecret(
  db: Executor,
  platformId: string,
  secretSealed: string,
  overlapSeconds: number,
): Promise<{ webhook_url: string | null; webhook_previous_secret_expires_at: Date | null } | undefined> {
  const keep = overlapSeconds > 0;
  return db
    .updateTable('platforms')
    .set({
      webhook_secret_sealed: secretSealed,
      // The right-hand sides read the row as it was: the current secret becomes the previous one.
      webhook_previous_secret_sealed: keep ? sql<string>`webhook_secret_sealed` : null,
      webhook_previous_secret_expires_at: keep ? sql<Date>`now() + ${`${overlapSeconds} seconds`}::interval` : null,
    })
    .where('id', '=', platformId)
    .where('webhook_url', 'is not', null)
    .returning(['webhook_url', 'webhook_previous_secret_expires_at'])
    .executeTakeFirst();
}

export async function removePlatformWebhook(db: Executor, platformId: string): Promise<void> {
  await db
    .updateTable('platforms')
    .set({
      webhook_url: null,
      webhook_secret_sealed: null,
      webhook_previous_secret_sealed: null,
      webhook_previous_secret_expires_at: null,
    })
    .where('id', '=', platformId)
    .execute();
}

/** A platform's webhook URL, and until when a previous secret still signs (null once expired). */
export async function findPlatformWebhook(
  db: Executor,
  platformId: string,
): Promise<{ webhook_url: string | null; expires_at: Date | null } | undefined> {
  return db
    .selectFrom('platforms')
    .select([
      'webhook_url',
      sql<Date | null>`case when webhook_previous_secret_expires_at > now()
        then webhook_previous_secret_expires_at end`.as('expires_at'),
    ])
    .where('id', '=', platformId)
    .executeTakeFirst();
}

// ── Enqueueing ───────────────────────────────────────────────────────────────────────

/**
 * The platforms that act for an organization and have a webhook URL (never the built-in
 * `annex-apps`), with the database's time now.
 */
export async function listWebhookReceivers(db: Executor, organizationId: string): Promise<{ id: string; now: Date }[]> {
  return db
    .selectFrom('platform_organizations as po')
    .innerJoin('platforms as p', 'p.id', 'po.platform_id')
    .select(['p.id', sql<Date>`now()`.as('now')])
    .where('po.organization_id', '=', organizationId)
    .where('p.webhook_url', 'is not', null)
    .where('p.slug', '<>', BUILT_IN_PLATFORM)
    .execute();
}

export async function insertDeliveries(db: Executor, rows: NewDeliveryRow[]): Promise<void> {
  await db.insertInto('webhook_deliveries').values(rows).execute();
}

// ── Leasing and recording attempts ───────────────────────────────────────────────────

/** A leased delivery with where and how to send it (URL and secrets as they are now). */
export interface LeasedDelivery extends DeliveryRow {
  webhook_url: string | null;
  webhook_secret_sealed: string | null;
  /** The secret before the last rotation while it still signs; null otherwise. */
  webhook_previous_secret_sealed: string | null;
}

/**
 * Leases up to `limit` due pending deliveries for `owner` (rows whose lease, if any, has
 * expired: a crashed replica's rows come back) and counts the attempt. `FOR UPDATE SKIP
 * LOCKED` lets every replica claim at once without two claiming the same row.
 */
export async function claimDueDeliveries(
  db: Executor,
  owner: string,
  leaseMs: number,
  limit: number,
): Promise<LeasedDelivery[]> {
  if (limit <= 0) return [];
  const result = await sql<LeasedDelivery>`
    with claimed as (
      update webhook_deliveries
      set lease_owner = ${owner},
          lease_expires_at = now() + ${`${leaseMs} milliseconds`}::interval,
          attempts = attempts + 1
      where id in (
        select id from webhook_deliveries
        where state = 'pending'
          and next_attempt_at <= now()
          and (lease_expires_at is null or lease_expires_at < now())
        order by next_attempt_at
        limit ${limit}
        for update skip locked
      )
      returning *
    )
    select claimed.*, p.webhook_url, p.webhook_secret_sealed,
      case when p.webhook_previous_secret_expires_at > now() then p.webhook_previous_secret_sealed end
        as webhook_previous_secret_sealed
    from claimed join platforms p on p.id = claimed.platform_id
    order by claimed.next_attempt_at`.execute(db);
  return result.rows;
}

/**
 * When the webhook worker has something to look at next: the earliest pending delivery's
 * attempt, or the end of a lease on one (its holder may have died). Null when none is pending.
 */
export async function nextDeliveryDueAt(db: Executor): Promise<Date | null> {
  const row = await db
    .selectFrom('webhook_deliveries')
    .select(sql<Date | null>`min(greatest(next_attempt_at, coalesce(lease_expires_at, next_attempt_at)))`.as('next'))
    .where('state', '=', 'pending')
    .executeTakeFirst();
  return row?.next ?? null;
}

/** How an attempt ends for the row: delivered, not counted, or failed (retried later or for good). */
export type AttemptRecord =
  | { kind: 'delivered'; status: number }
  | { kind: 'interrupted' }
  | { kind: 'failed'; status: number | null; error: string; exhausted: boolean; delayMs: number };

/**
 * Records an attempt on a delivery, only while `owner` still holds its lease and it is
 * pending (a retaken row is never overwritten), and releases the lease. `interrupted` gives
 * the attempt back and makes the delivery due now; a failure is due again after `delayMs`,
 * or ends as `failed` when `exhausted`. Returns the new state, or undefined when the lease
 * was lost.
 */
export async function recordDeliveryAttempt(
  db: Executor,
  id: string,
  owner: string,
  attempt: AttemptRecord,
): Promise<DeliveryRow['state'] | undefined> {
  const leased = db
    .updateTable('webhook_deliveries')
    .where('id', '=', id)
    .where('lease_owner', '=', owner)
    .where('state', '=', 'pending');
  const released = { lease_owner: null, lease_expires_at: null };
  let query: typeof leased;
  if (attempt.kind === 'delivered') {
    query = leased.set({
      ...released,
      state: 'delivered',
      last_status: attempt.status,
      last_error: null,
      delivered_at: sql<Date>`now()`,
    });
  } else if (attempt.kind === 'interrupted') {
    query = leased.set({
      ...released,
      attempts: sql<number>`greatest(attempts - 1, 0)`,
      next_attempt_at: sql<Date>`now()`,
    });
  } else {
    query = leased.set({
      ...released,
      state: attempt.exhausted ? 'failed' : 'pending',
      last_status: attempt.status,
      last_error: attempt.error,
      next_attempt_at: attempt.exhausted
        ? sql<Date>`now()`
        : sql<Date>`now() + ${`${attempt.delayMs} milliseconds`}::interval`,
    });
  }
  const row = await query.returning('state').executeTakeFirst();
  return row?.state;
}

// ── The delivery log ─────────────────────────────────────────────────────────────────

/** Whose deliveries a caller may see: a platform its own (for orgs it still acts for), else by organization. */
export interface DeliveryVisibility {
  platformId?: string;
  organizationIds: readonly string[] | 'all';
}

function visibleDeliveries(db: Executor, visibility: DeliveryVisibility) {
  let query = db
    .selectFrom('webhook_deliveries as d')
    .innerJoin('apps as a', 'a.id', 'd.app_id')
    .innerJoin('platforms as p', 'p.id', 'd.platform_id')
    .select([
      'd.id',
      'a.name as app',
      'p.slug as platform',
      'd.event_type',
      'd.release_version',
      'd.state',
      'd.attempts',
      'd.last_status',
      'd.last_error',
      'd.next_attempt_at',
      'd.created_at',
      'd.delivered_at',
    ]);
  if (visibility.platformId !== undefined) query = query.where('d.platform_id', '=', visibility.platformId);
  if (visibility.organizationIds !== 'all') {
    const ids = [...visibility.organizationIds];
    // An empty `in ()` is invalid SQL; no organization means nothing visible.
    query = ids.length > 0 ? query.where('a.organization_id', 'in', ids) : query.where(sql<boolean>`false`);
  }
  return query;
}

/** A delivery as the log lists it, with its app's name and its platform's slug. */
export type DeliveryLogRow = Awaited<ReturnType<ReturnType<typeof visibleDeliveries>['execute']>>[number];

/** The newest deliveries (at most `limit`, default 100) the caller may see, optionally of one app (by id) or state. */
export async function listVisibleDeliveries(
  db: Executor,
  visibility: DeliveryVisibility,
  filter: { appId?: string; state?: DeliveryRow['state']; limit?: number } = {},
): Promise<DeliveryLogRow[]> {
  let query = visibleDeliveries(db, visibility);
  if (filter.appId !== undefined) query = query.where('d.app_id', '=', filter.appId);
  if (filter.state !== undefined) query = query.where('d.state', '=', filter.state);
  return query
    .orderBy('d.created_at', 'desc')
    .orderBy('d.id', 'desc')
    .limit(filter.limit ?? 100)
    .execute();
}

export async function findVisibleDelivery(
  db: Executor,
  visibility: DeliveryVisibility,
  id: string,
): Promise<DeliveryLogRow | undefined> {
  return visibleDeliveries(db, visibility).where('d.id', '=', id).executeTakeFirst();
}

/**
 * Makes a delivery pending and due now, keeping its attempt count (the log shows the
 * history). A delivery that had failed gets one more attempt; one still pending keeps its
 * remaining ones. A lease in force is kept, so a delivery being sent is not sent twice at once.
 */
export async function redeliverWebhook(db: Executor, id: string): Promise<void> {
  await db
    .updateTable('webhook_deliveries')
    .set({ state: 'pending', next_attempt_at: sql<Date>`now()`, delivered_at: null })
    .where('id', '=', id)
    .execute();
}

/** The webhook URL of the platform a delivery goes to (null when it has none any more). */
export async function deliveryTargetUrl(db: Executor, id: string): Promise<string | null> {
  const row = await db
    .selectFrom('webhook_deliveries as d')
    .innerJoin('platforms as p', 'p.id', 'd.platform_id')
    .select('p.webhook_url')
    .where('d.id', '=', id)
    .executeTakeFirst();
  return row?.webhook_url ?? null;
}
