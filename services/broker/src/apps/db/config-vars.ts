import type { Executor } from '../../shared/db/executor.js';

/** A config var's name and the attachment that owns it (null: set by a user). */
export interface VarOwnerRow {
  name: string;
  attachment: string | null;
}

/** Those of these vars the app has, with their owners; `names` must not be empty. */
export async function listVarsNamed(db: Executor, appId: string, names: readonly string[]): Promise<VarOwnerRow[]> {
  return db
    .selectFrom('config_vars as v')
    .leftJoin('attachments as a', 'a.id', 'v.attachment_id')
    .select(['v.name', 'a.name as attachment'])
    .where('v.app_id', '=', appId)
    .where('v.name', 'in', names)
    .execute();
}

/** One of these vars of the app that an attachment owns, with that attachment's name. */
export async function findAttachmentOwnedVar(
  db: Executor,
  appId: string,
  names: readonly string[],
): Promise<{ name: string; attachment: string } | undefined> {
  return db
    .selectFrom('config_vars as v')
    .innerJoin('attachments as a', 'a.id', 'v.attachment_id')
    .select(['v.name', 'a.name as attachment'])
    .where('v.app_id', '=', appId)
    .where('v.name', 'in', names)
    .executeTakeFirst();
}

/** All the app's vars by name, with their owners. */
export async function listVarOwners(db: Executor, appId: string): Promise<VarOwnerRow[]> {
  return db
    .selectFrom('config_vars as v')
    .leftJoin('attachments as a', 'a.id', 'v.attachment_id')
    .select(['v.name', 'a.name as attachment'])
    .where('v.app_id', '=', appId)
    .orderBy('v.name')
    .execute();
}

/** The names of the vars these attachments own, by name. */
export async function listVarNamesOfAttachments(
  db: Executor,
  attachmentIds: readonly string[],
): Promise<{ attachment_id: string | null; name: string }[]> {
  return db
    .selectFrom('config_vars')
    .select(['attachment_id', 'name'])
    .where('attachment_id', 'in', attachmentIds)
    .orderBy('name')
    .execute();
}
