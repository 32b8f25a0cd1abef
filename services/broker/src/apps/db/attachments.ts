import { type AttachmentsTable, executePrepared } from '@annex/platform';
import { type Insertable, sql } from 'kysely';
import type { Executor } from '../../shared/db/executor.js';
import type { Lease } from './addons.js';
import type { AttachmentRow, AttachmentViewRow } from './store.js';

/** The attachment with this id; throws when there is none. */
export async function getAttachment(db: Executor, id: string): Promise<AttachmentRow> {
  return db.selectFrom('attachments').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
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

/** An attachment with the names of the config vars it set, in name order. */
export type AttachmentWithVarNames = AttachmentViewRow & { config_var_names: string[] };

/** The attachments' columns, and the names of their config vars (one array per row, no second statement). */
const LIVE_ATTACHMENTS_OF_APPS_OR_ADDONS = `
  select t.id, t.name, t.app_id, t.addon_id, t.state, t.last_error, t.created_at,
    array(select cv.name from config_vars cv where cv.attachment_id = t.id order by cv.name) as config_var_names
  from attachments t
  where t.detached_at is null and (t.app_id = any($1::uuid[]) or t.addon_id = any($2::uuid[]))
  order by t.created_at, t.id`;

/**
 * Live attachments (not detached) to any of these apps or of any of these add-ons, with
 * their config vars' names, oldest first (then by id, so that every read lists them alike);
 * one statement of the same text for any number of each, so it runs prepared.
 */
export async function liveAttachmentsOfAppsOrAddons(
  db: Executor,
  appIds: readonly string[],
  addonIds: readonly string[],
): Promise<AttachmentWithVarNames[]> {
  if (appIds.length === 0 && addonIds.length === 0) return [];
  return executePrepared<AttachmentWithVarNames>(
    db,
    'live_attachments_of_apps_or_addons',
    LIVE_ATTACHMENTS_OF_APPS_OR_ADDONS,
    [[...new Set(appIds)], [...new Set(addonIds)]],
  );
}

/** Live attachments of these add-ons, with their config vars' names, as {@link liveAttachmentsOfAppsOrAddons}. */
export async function liveAttachmentsOfAddons(
  db: Executor,
  addonIds: readonly string[],
): Promise<AttachmentWithVarNames[]> {
  return liveAttachmentsOfAppsOrAddons(db, [], addonIds);
}

/** The add-on's live attachments that hold credentials (attached or rotating), with their app's name. */
export async function listCredentialedAttachments(
  db: Executor,
  addonId: string,
): Promise<{ id: string; name: string; app_id: string; app: string }[]> {
  return db
    .selectFrom('attachments as t')
    .innerJoin('apps as a', 'a.id', 't.app_id')
    .select(['t.id', 't.name', 't.app_id', 'a.name as app'])
    .where('t.addon_id', '=', addonId)
    .where('t.detached_at', 'is', null)
    .where('t.state', 'in', ['attached', 'rotating'])
    .execute();
}

/** Whether the app has a live attachment of this name. */
export async function attachmentNameTaken(db: Executor, appId: string, name: string): Promise<boolean> {
  const taken = await db
    .selectFrom('attachments')
    .select('id')
    .where('app_id', '=', appId)
    .where('name', '=', name)
    .where('detached_at', 'is', null)
    .executeTakeFirst();
  return taken !== undefined;
}

/** The app's live attachment of this name, locked. */
export async function lockLiveAttachmentByName(
  db: Executor,
  appId: string,
  name: string,
): Promise<AttachmentRow | undefined> {
  return db
    .selectFrom('attachments')
    .selectAll()
    .where('app_id', '=', appId)
    .where('name', '=', name)
    .where('detached_at', 'is', null)
    .forUpdate()
    .executeTakeFirst();
}

/** Whether the app has another live attachment (than `exceptId`) to the add-on. */
export async function hasOtherLiveAttachment(
  db: Executor,
  addonId: string,
  appId: string,
  exceptId: string,
): Promise<boolean> {
  const others = await db
    .selectFrom('attachments')
    .select('id')
    .where('addon_id', '=', addonId)
    .where('app_id', '=', appId)
    .where('detached_at', 'is', null)
    .where('id', '!=', exceptId)
    .executeTakeFirst();
  return others !== undefined;
}

/** Whether an app of the organization has a live attachment to the add-on. */
export async function attachedByOrganization(db: Executor, addonId: string, organizationId: string): Promise<boolean> {
  const attached = await db
    .selectFrom('attachments as t')
    .innerJoin('apps as a', 'a.id', 't.app_id')
    .select('t.id')
    .where('t.addon_id', '=', addonId)
    .where('a.organization_id', '=', organizationId)
    .where('t.detached_at', 'is', null)
    .executeTakeFirst();
  return attached !== undefined;
}

/** Inserts the attachment; returns the row. */
export async function insertAttachment(db: Executor, row: Insertable<AttachmentsTable>): Promise<AttachmentRow> {
  return db.insertInto('attachments').values(row).returningAll().executeTakeFirstOrThrow();
}

/** Ends the attachment's lease now, so the reconciler may take it up at once. */
export async function releaseAttachmentLease(db: Executor, id: string): Promise<void> {
  await db
    .updateTable('attachments')
    .set({ lease_owner: null, lease_expires_at: sql`now()` })
    .where('id', '=', id)
    .execute();
}

/** Marks the attachment `detaching`, leased to `lease.owner`. */
export async function markAttachmentDetaching(db: Executor, id: string, lease: Lease): Promise<void> {
  await db
    .updateTable('attachments')
    .set({ state: 'detaching', lease_owner: lease.owner, lease_expires_at: lease.expiresAt, updated_at: sql`now()` })
    .where('id', '=', id)
    .execute();
}

/** Marks the attachment `rotating` to a new binding, leased to `lease.owner`. */
export async function markAttachmentRotating(
  db: Executor,
  id: string,
  rotation: { rotatingBindingId: string; graceSeconds: number | null },
  lease: Lease,
): Promise<void> {
  await db
    .updateTable('attachments')
    .set({
      state: 'rotating',
      rotating_binding_id: rotation.rotatingBindingId,
      rotation_grace_seconds: rotation.graceSeconds,
      lease_owner: lease.owner,
      lease_expires_at: lease.expiresAt,
      updated_at: sql`now()`,
    })
    .where('id', '=', id)
    .execute();
}

/** Records that the app runs `release` on its live attachments that had confirmed an older one. */
export async function confirmReleaseOnLiveAttachments(db: Executor, appId: string, release: number): Promise<void> {
  await db
    .updateTable('attachments')
    .set({ confirmed_release: release })
    .where('app_id', '=', appId)
    .where('detached_at', 'is', null)
    .where((eb) => eb.or([eb('confirmed_release', 'is', null), eb('confirmed_release', '<', release)]))
    .execute();
}
