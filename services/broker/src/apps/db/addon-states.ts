import type { AddonState, AddonsTable, AttachmentsTable } from '@annex/platform';
import { type Selectable, sql, type Updateable } from 'kysely';
import type { Executor } from '../../shared/db/executor.js';

// What the add-on state machine reads and writes as it moves add-ons and attachments on.

type AddonRow = Selectable<AddonsTable>;
type AttachmentRow = Selectable<AttachmentsTable>;

// ── Add-ons ──────────────────────────────────────────────────────────────────────────

/** The add-on with this id, destroyed ones too. */
export async function findAddonById(db: Executor, id: string): Promise<AddonRow | undefined> {
  return db.selectFrom('addons').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Changes an add-on, whatever its state. */
export async function updateAddon(
  db: Executor,
  id: string,
  changes: Omit<Updateable<AddonsTable>, 'updated_at'>,
): Promise<void> {
  await db
    .updateTable('addons')
    .set({ ...changes, updated_at: sql`now()` })
    .where('id', '=', id)
    .execute();
}

/** Changes an add-on only while it is still in state `from`; returns whether it was. */
export async function moveAddonState(
  db: Executor,
  id: string,
  from: AddonState,
  changes: Omit<Updateable<AddonsTable>, 'updated_at'>,
): Promise<boolean> {
  const moved = await db
    .updateTable('addons')
    .set({ ...changes, updated_at: sql`now()` })
    .where('id', '=', id)
    .where('state', '=', from)
    .executeTakeFirst();
  return Number(moved.numUpdatedRows) > 0;
}

// ── Attachments ──────────────────────────────────────────────────────────────────────

export async function findAttachmentById(db: Executor, id: string): Promise<AttachmentRow | undefined> {
  return db.selectFrom('attachments').selectAll().where('id', '=', id).executeTakeFirst();
}

/** The add-on's attachments not detached yet. */
export async function liveAttachmentsOfAddon(db: Executor, addonId: string): Promise<AttachmentRow[]> {
  return db
    .selectFrom('attachments')
    .selectAll()
    .where('addon_id', '=', addonId)
    .where('detached_at', 'is', null)
    .execute();
}

export async function updateAttachment(
  db: Executor,
  id: string,
  changes: Omit<Updateable<AttachmentsTable>, 'updated_at'>,
): Promise<void> {
  await db
    .updateTable('attachments')
    .set({ ...changes, updated_at: sql`now()` })
    .where('id', '=', id)
    .execute();
}

/** An attachment's state, locked until the transaction ends. */
export async function lockAttachmentState(
  trx: Executor,
  id: string,
): Promise<Pick<AttachmentRow, 'state' | 'detached_at'> | undefined> {
  return trx
    .selectFrom('attachments')
    .select(['state', 'detached_at'])
    .where('id', '=', id)
    .forUpdate()
    .executeTakeFirst();
}

/** An attachment's state and bindings, locked until the transaction ends. */
export async function lockAttachmentBindings(
  trx: Executor,
  id: string,
): Promise<Pick<AttachmentRow, 'state' | 'rotating_binding_id' | 'binding_id'> | undefined> {
  return trx
    .selectFrom('attachments')
    .select(['state', 'rotating_binding_id', 'binding_id'])
    .where('id', '=', id)
    .forUpdate()
    .executeTakeFirst();
}

// ── Vars the attachments own ─────────────────────────────────────────────────────────

/** The names of the app's vars the attachment owns. */
export async function varsOwnedBy(db: Executor, appId: string, attachmentId: string): Promise<{ name: string }[]> {
  return db
    .selectFrom('config_vars')
    .select('name')
    .where('app_id', '=', appId)
    .where('attachment_id', '=', attachmentId)
    .execute();
}

// ── What the steps need of the add-on's surroundings ─────────────────────────────────

/** The id of the platform with this slug; throws when there is none. */
export async function platformIdBySlug(db: Executor, slug: string): Promise<string> {
  const row = await db.selectFrom('platforms').select('id').where('slug', '=', slug).executeTakeFirstOrThrow();
  return row.id;
}

/** An app's name; throws when the app does not exist. */
export async function appName(db: Executor, appId: string): Promise<string> {
  const app = await db.selectFrom('apps').select('name').where('id', '=', appId).executeTakeFirstOrThrow();
  return app.name;
}

/** A service's slug and its declared config vars; throws when the service does not exist. */
export async function serviceVarDeclarations(
  db: Executor,
  serviceId: string,
): Promise<{ slug: string; config_vars: string[] }> {
  return db
    .selectFrom('services')
    .select(['slug', 'config_vars'])
    .where('id', '=', serviceId)
    .executeTakeFirstOrThrow();
}
