import type { AddonsTable, AppsTable, AttachmentsTable } from '@annex/platform';
import type { Selectable } from 'kysely';

// The rows of apps, add-ons and attachments as the apps module reads them, and how a
// reference to one is told apart (by id or by name).

export type AppRow = Selectable<AppsTable>;
export type AddonRow = Selectable<AddonsTable>;
export type AttachmentRow = Selectable<AttachmentsTable>;

/** What the `/v1` views show of an app, an add-on, an attachment: lists read only these columns. */
export type AppViewRow = Pick<AppRow, 'id' | 'name' | 'organization_id' | 'release_version' | 'created_at'>;
export type AddonViewRow = Pick<
  AddonRow,
  'id' | 'name' | 'organization_id' | 'app_id' | 'plan_id' | 'state' | 'last_error' | 'created_at'
>;
export type AttachmentViewRow = Pick<
  AttachmentRow,
  'id' | 'name' | 'app_id' | 'addon_id' | 'state' | 'last_error' | 'created_at'
>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether a reference is a UUID (looked up by id) rather than a name or slug. */
export function isUuid(ref: string): boolean {
  return UUID.test(ref);
}
