import type { AddonsTable, AppsTable, AttachmentsTable } from '@annex/platform';
import type { Selectable } from 'kysely';
import type { Executor } from '../../shared/db/executor.js';
import { type ApiCaller, mayAccess, notFoundFailure } from '../../shared/domain/api-failure.js';

// Reads of apps, add-ons and attachments, always through the caller's organizations: a row
// of another organization is "not found", exactly like a missing one.

export type AppRow = Selectable<AppsTable>;
export type AddonRow = Selectable<AddonsTable>;
export type AttachmentRow = Selectable<AttachmentsTable>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether a reference is a UUID (looked up by id) rather than a name or slug. */
export function isUuid(ref: string): boolean {
  return UUID.test(ref);
}

/** An app by name or id that the caller may see; else `not_found`. */
export async function findApp(db: Executor, caller: ApiCaller, ref: string, forUpdate = false): Promise<AppRow> {
  let query = db
    .selectFrom('apps')
    .selectAll()
    .where(UUID.test(ref) ? 'id' : 'name', '=', ref);
  if (forUpdate) query = query.forUpdate();
  const app = await query.executeTakeFirst();
  if (!app || !mayAccess(caller, app.organization_id)) throw notFoundFailure(`app "${ref}"`);
  return app;
}

/** An add-on by name or id (destroyed ones too) that the caller may see; else `not_found`. */
export async function findAddon(db: Executor, caller: ApiCaller, ref: string, forUpdate = false): Promise<AddonRow> {
  let query = db
    .selectFrom('addons')
    .selectAll()
    .where(UUID.test(ref) ? 'id' : 'name', '=', ref);
  if (forUpdate) query = query.forUpdate();
  const addon = await query.executeTakeFirst();
  if (!addon || !mayAccess(caller, addon.organization_id)) throw notFoundFailure(`add-on "${ref}"`);
  return addon;
}

/**
 * An add-on the caller may read: one of its organizations', or one shared with one of them
 * or attached to one of their apps (the borrower sees the add-on, not its owner's apps).
 * Anything else is `not_found`. Changing an add-on needs `findAddon`: only its owner may.
 */
export async function findVisibleAddon(db: Executor, caller: ApiCaller, ref: string): Promise<AddonRow> {
  const addon = await db
    .selectFrom('addons')
    .selectAll()
    .where(UUID.test(ref) ? 'id' : 'name', '=', ref)
    .executeTakeFirst();
  if (addon && mayAccess(caller, addon.organization_id)) return addon;
  const orgs = caller.organizationIds === 'all' ? [] : caller.organizationIds;
  if (addon && orgs.length > 0) {
    const borrowed = await db
      .selectFrom('addons as a')
      .select('a.id')
      .where('a.id', '=', addon.id)
      .where((eb) =>
        eb.or([
          eb.exists(
            eb
              .selectFrom('addon_shares as s')
              .select('s.addon_id')
              .whereRef('s.addon_id', '=', 'a.id')
              .where('s.organization_id', 'in', orgs),
          ),
          eb.exists(
            eb
              .selectFrom('attachments as t')
              .innerJoin('apps as p', 'p.id', 't.app_id')
              .select('t.id')
              .whereRef('t.addon_id', '=', 'a.id')
              .where('t.detached_at', 'is', null)
              .where('p.organization_id', 'in', orgs),
          ),
        ]),
      )
      .executeTakeFirst();
    if (borrowed) return addon;
  }
  throw notFoundFailure(`add-on "${ref}"`);
}

/**
 * An add-on an app may attach: one the caller may see, or one shared with the app's
 * organization. Anything else is `not_found`, exactly like a missing one.
 */
export async function findAttachableAddon(
  db: Executor,
  caller: ApiCaller,
  ref: string,
  appOrganizationId: string,
): Promise<AddonRow> {
  const addon = await db
    .selectFrom('addons')
    .selectAll()
    .where(UUID.test(ref) ? 'id' : 'name', '=', ref)
    .forUpdate()
    .executeTakeFirst();
  if (addon && mayAccess(caller, addon.organization_id)) return addon;
  if (addon && mayAccess(caller, appOrganizationId)) {
    const shared = await db
      .selectFrom('addon_shares')
      .select('addon_id')
      .where('addon_id', '=', addon.id)
      .where('organization_id', '=', appOrganizationId)
      .executeTakeFirst();
    if (shared) return addon;
  }
  throw notFoundFailure(`add-on "${ref}"`);
}

export async function listApps(db: Executor, caller: ApiCaller): Promise<AppRow[]> {
  let query = db.selectFrom('apps').selectAll().orderBy('name');
  if (caller.organizationIds !== 'all') {
    if (caller.organizationIds.length === 0) return [];
    query = query.where('organization_id', 'in', caller.organizationIds);
  }
  return query.execute();
}

export async function listAddons(db: Executor, caller: ApiCaller, appId?: string): Promise<AddonRow[]> {
  let query = db.selectFrom('addons').selectAll().where('state', '!=', 'destroyed').orderBy('created_at');
  if (appId) query = query.where('app_id', '=', appId);
  if (caller.organizationIds !== 'all') {
    if (caller.organizationIds.length === 0) return [];
    query = query.where('organization_id', 'in', caller.organizationIds);
  }
  return query.execute();
}

/** Live attachments (not detached) of an add-on or to an app. */
export async function liveAttachments(
  db: Executor,
  by: { addonId?: string; appId?: string },
): Promise<AttachmentRow[]> {
  let query = db.selectFrom('attachments').selectAll().where('detached_at', 'is', null).orderBy('created_at');
  if (by.addonId) query = query.where('addon_id', '=', by.addonId);
  if (by.appId) query = query.where('app_id', '=', by.appId);
  return query.execute();
}

/** Apps by id: their name, organization and its slug. */
export async function appsByIds(
  db: Executor,
  ids: readonly string[],
): Promise<Map<string, { name: string; organizationId: string; organization: string }>> {
  if (ids.length === 0) return new Map();
  const rows = await db
    .selectFrom('apps as a')
    .innerJoin('organizations as o', 'o.id', 'a.organization_id')
    .select(['a.id', 'a.name', 'a.organization_id', 'o.slug'])
    .where('a.id', 'in', [...new Set(ids)])
    .execute();
  return new Map(rows.map((r) => [r.id, { name: r.name, organizationId: r.organization_id, organization: r.slug }]));
}
