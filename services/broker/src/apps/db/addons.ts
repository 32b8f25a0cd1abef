import { type AddonsTable, executePrepared } from '@annex/platform';
import { type Insertable, sql } from 'kysely';
import type { Executor } from '../../shared/db/executor.js';
import { type AddonRow, type AddonViewRow, isUuid } from './store.js';

/** Which replica moves a row forward, until when. */
export interface Lease {
  owner: string;
  expiresAt: Date;
}

/**
 * How a read locks the add-on's row until the transaction ends: `true` for a change of the
 * add-on itself (destroy, unshare), `'share'` for a use of it that must not overlap such a
 * change but may overlap other uses (attaching it to apps: one attach does not wait on another).
 */
export type AddonLock = boolean | 'share';

/**
 * The add-on with this id (when `ref` is a UUID) or name, of any organization, destroyed ones
 * too; locked as `lock` says.
 */
export async function findAddonByRef(
  db: Executor,
  ref: string,
  lock: AddonLock = false,
): Promise<AddonRow | undefined> {
  let query = db
    .selectFrom('addons')
    .selectAll()
    .where(isUuid(ref) ? 'id' : 'name', '=', ref);
  if (lock === 'share') query = query.forShare();
  else if (lock) query = query.forUpdate();
  return query.executeTakeFirst();
}

/**
 * Whether the add-on is shared with one of these organizations or attached to one of their
 * apps; the list must not be empty.
 */
export async function addonBorrowedBy(
  db: Executor,
  addonId: string,
  organizationIds: readonly string[],
): Promise<boolean> {
  const borrowed = await db
    .selectFrom('addons as a')
    .select('a.id')
    .where('a.id', '=', addonId)
    .where((eb) =>
      eb.or([
        eb.exists(
          eb
            .selectFrom('addon_shares as s')
            .select('s.addon_id')
            .whereRef('s.addon_id', '=', 'a.id')
            .where('s.organization_id', 'in', organizationIds),
        ),
        eb.exists(
          eb
            .selectFrom('attachments as t')
            .innerJoin('apps as p', 'p.id', 't.app_id')
            .select('t.id')
            .whereRef('t.addon_id', '=', 'a.id')
            .where('t.detached_at', 'is', null)
            .where('p.organization_id', 'in', organizationIds),
        ),
      ]),
    )
    .executeTakeFirst();
  return borrowed !== undefined;
}

/**
 * Add-ons not destroyed, oldest first, of these organizations (`'all'`: of any), of one app
 * when `appId` is given; the list must not be empty.
 */
export async function listAddonsOf(
  db: Executor,
  organizationIds: readonly string[] | 'all',
  appId?: string,
): Promise<AddonRow[]> {
  let query = db.selectFrom('addons').selectAll().where('state', '!=', 'destroyed').orderBy('created_at');
  if (appId) query = query.where('app_id', '=', appId);
  if (organizationIds !== 'all') query = query.where('organization_id', 'in', organizationIds);
  return query.execute();
}

/** An add-on with the slugs of its plan, service and provider. */
export type AddonWithPlan = AddonViewRow & { plan_slug: string; service_slug: string; provider_slug: string };

const LIVE_ADDONS_OF_APPS = `
  select a.id, a.name, a.organization_id, a.app_id, a.plan_id, a.state, a.last_error, a.created_at,
    p.slug as plan_slug, s.slug as service_slug, pr.slug as provider_slug
  from addons a
  join plans p on p.id = a.plan_id
  join services s on s.id = p.service_id
  join providers pr on pr.id = s.provider_id
  where a.app_id = any($1::uuid[]) and a.state <> 'destroyed'
  order by a.created_at, a.id`;

/**
 * The live (not destroyed) add-ons of these apps, with their plans' slugs, oldest first: one
 * statement of the same text for any number of apps, so it runs prepared.
 */
export async function listLiveAddonsOfApps(db: Executor, appIds: readonly string[]): Promise<AddonWithPlan[]> {
  if (appIds.length === 0) return [];
  return executePrepared<AddonWithPlan>(db, 'live_addons_of_apps', LIVE_ADDONS_OF_APPS, [[...new Set(appIds)]]);
}

/** Add-on names by id. */
export async function addonNamesByIds(db: Executor, ids: readonly string[]): Promise<Map<string, string>> {
  const rows = await db
    .selectFrom('addons')
    .select(['id', 'name'])
    .where('id', 'in', [...new Set(ids)])
    .execute();
  return new Map(rows.map((a) => [a.id, a.name]));
}

/** The app that owns the add-on, and its name; throws when there is no such add-on. */
export async function addonOwnerAndName(db: Executor, id: string): Promise<{ app_id: string; name: string }> {
  return db.selectFrom('addons').select(['app_id', 'name']).where('id', '=', id).executeTakeFirstOrThrow();
}

/**
 * Inserts the add-on unless an add-on (destroyed or not) has its name already: the unique
 * name decides, in the one statement. Returns the row inserted, or undefined.
 */
export async function insertAddonUnlessNameTaken(
  db: Executor,
  row: Insertable<AddonsTable>,
): Promise<AddonRow | undefined> {
  return db
    .insertInto('addons')
    .values(row)
    .onConflict((oc) => oc.column('name').doNothing())
    .returningAll()
    .executeTakeFirst();
}

/** Ends the add-on's lease now, so the reconciler may take it up at once. */
export async function releaseAddonLease(db: Executor, id: string): Promise<void> {
  await db
    .updateTable('addons')
    .set({ lease_owner: null, lease_expires_at: sql`now()` })
    .where('id', '=', id)
    .execute();
}

/** Marks the add-on `destroying`, leased to `lease.owner`. */
export async function markAddonDestroying(db: Executor, id: string, lease: Lease): Promise<void> {
  await db
    .updateTable('addons')
    .set({
      state: 'destroying',
      lease_owner: lease.owner,
      lease_expires_at: lease.expiresAt,
      updated_at: sql`now()`,
    })
    .where('id', '=', id)
    .execute();
}

/**
 * Marks the add-on `changing_plan`, leased to `lease.owner`, if it is `provisioned`; returns
 * whether it was.
 */
export async function claimAddonForPlanChange(db: Executor, id: string, lease: Lease): Promise<boolean> {
  const claimed = await db
    .updateTable('addons')
    .set({
      state: 'changing_plan',
      lease_owner: lease.owner,
      lease_expires_at: lease.expiresAt,
      updated_at: sql`now()`,
    })
    .where('id', '=', id)
    .where('state', '=', 'provisioned')
    .executeTakeFirst();
  return Number(claimed.numUpdatedRows) !== 0;
}

/** Puts the add-on back to `provisioned`, unleased (a plan change the provider refused). */
export async function returnAddonToProvisioned(db: Executor, id: string): Promise<void> {
  await db
    .updateTable('addons')
    .set({ state: 'provisioned', lease_owner: null, lease_expires_at: null, updated_at: sql`now()` })
    .where('id', '=', id)
    .execute();
}

/** The provider's live instance with this provider-side id: its id (the add-on's) and service. */
export async function findLiveInstanceOfProvider(
  db: Executor,
  providerId: string,
  providerInstanceId: string,
): Promise<{ id: string; service_id: string } | undefined> {
  return db
    .selectFrom('service_instances')
    .select(['id', 'service_id'])
    .where('provider_id', '=', providerId)
    .where('provider_instance_id', '=', providerInstanceId)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
}
