import type { AddonsTable, AppsTable, AttachmentsTable } from '@annex/platform';
import type { Selectable } from 'kysely';

// The rows of apps, add-ons and attachments as the apps module reads them, and how a
// reference to one is told apart (by id or by name).

export type AppRow = Selectable<AppsTable>;
export type AddonRow = Selectable<AddonsTable>;
export type AttachmentRow = Selectable<AttachmentsTable>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether a reference is a UUID (looked up by id) rather than a name or slug. */
export function isUuid(ref: string): boolean {
  return UUID.test(ref);
}
