import type { Executor } from '../../shared/db/executor.js';
import { type ApiCaller, mayAccess, notFoundFailure } from '../../shared/domain/api-failure.js';
import { addonBorrowedBy, findAddonByRef, listAddonsOf } from '../db/addons.js';
import { findAppByRef, findAppIdByNameOrId, type ListedAppRow, listAppsOf } from '../db/apps.js';
import { isAddonSharedWith } from '../db/shares.js';
import type { AddonRow, AppRow } from '../db/store.js';

// Reads of apps, add-ons and attachments, always through the caller's organizations: a row
// of another organization is "not found", exactly like a missing one.

/** An app by name or id that the caller may see; else `not_found`. */
export async function findApp(db: Executor, caller: ApiCaller, ref: string, forUpdate = false): Promise<AppRow> {
  const app = await findAppByRef(db, ref, forUpdate);
  if (!app || !mayAccess(caller, app.organization_id)) throw notFoundFailure(`app "${ref}"`);
  return app;
}

/** An add-on by name or id (destroyed ones too) that the caller may see; else `not_found`. */
export async function findAddon(db: Executor, caller: ApiCaller, ref: string, forUpdate = false): Promise<AddonRow> {
  const addon = await findAddonByRef(db, ref, forUpdate);
  if (!addon || !mayAccess(caller, addon.organization_id)) throw notFoundFailure(`add-on "${ref}"`);
  return addon;
}

/**
 * An add-on the caller may read: one of its organizations', or one shared with one of them
 * or attached to one of their apps (the borrower sees the add-on, not its owner's apps).
 * Anything else is `not_found`. Changing an add-on needs `findAddon`: only its owner may.
 */
export async function findVisibleAddon(db: Executor, caller: ApiCaller, ref: string): Promise<AddonRow> {
  const addon = await findAddonByRef(db, ref);
  if (addon && mayAccess(caller, addon.organization_id)) return addon;
  const orgs = caller.organizationIds === 'all' ? [] : caller.organizationIds;
  if (addon && orgs.length > 0) {
    if (await addonBorrowedBy(db, addon.id, orgs)) return addon;
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
  // Shared: attaches of one add-on run side by side; a destroy or an unshare waits for them.
  const addon = await findAddonByRef(db, ref, 'share');
  if (addon && mayAccess(caller, addon.organization_id)) return addon;
  if (addon && mayAccess(caller, appOrganizationId)) {
    if (await isAddonSharedWith(db, addon.id, appOrganizationId)) return addon;
  }
  throw notFoundFailure(`add-on "${ref}"`);
}

export async function listApps(db: Executor, caller: ApiCaller): Promise<ListedAppRow[]> {
  if (caller.organizationIds !== 'all' && caller.organizationIds.length === 0) return [];
  return listAppsOf(db, caller.organizationIds);
}

export async function listAddons(db: Executor, caller: ApiCaller, appId?: string): Promise<AddonRow[]> {
  if (caller.organizationIds !== 'all' && caller.organizationIds.length === 0) return [];
  return listAddonsOf(db, caller.organizationIds, appId);
}

/** An app (by name or id) of an organization the caller may see; undefined otherwise, like a missing one. */
export async function visibleAppId(db: Executor, caller: ApiCaller, app: string): Promise<string | undefined> {
  if (caller.organizationIds !== 'all' && caller.organizationIds.length === 0) return undefined;
  return findAppIdByNameOrId(db, app, caller.organizationIds);
}
