import type { ConfigVarsTable, ReleasesTable } from '@annex/platform';
import { type Insertable, type Selectable, sql } from 'kysely';
import type { Executor } from '../../shared/db/executor.js';

// An app's releases: the vars a release writes, the release rows and the app's release
// version, and the app's event stream that releases and add-on steps append to.

export type ReleaseRow = Selectable<ReleasesTable>;
export type NewConfigVarRow = Insertable<ConfigVarsTable>;

/** The app's vars, sealed, by name. */
export async function listSealedConfigVars(
  db: Executor,
  appId: string,
): Promise<Pick<Selectable<ConfigVarsTable>, 'name' | 'value_sealed' | 'attachment_id' | 'secret'>[]> {
  return db
    .selectFrom('config_vars')
    .select(['name', 'value_sealed', 'attachment_id', 'secret'])
    .where('app_id', '=', appId)
    .orderBy('name')
    .execute();
}

/** The app a release is made for, locked until the transaction ends; throws when it does not exist. */
export async function lockAppForRelease(
  trx: Executor,
  appId: string,
): Promise<{ id: string; name: string; organization_id: string; release_version: number }> {
  return trx
    .selectFrom('apps')
    .select(['id', 'name', 'organization_id', 'release_version'])
    .where('id', '=', appId)
    .forUpdate()
    .executeTakeFirstOrThrow();
}

/** The version of the app's latest release (0 before the first); throws when the app does not exist. */
export async function appReleaseVersion(db: Executor, appId: string): Promise<number> {
  const app = await db.selectFrom('apps').select('release_version').where('id', '=', appId).executeTakeFirstOrThrow();
  return app.release_version;
}

export async function deleteConfigVars(trx: Executor, appId: string, names: string[]): Promise<void> {
  await trx.deleteFrom('config_vars').where('app_id', '=', appId).where('name', 'in', names).execute();
}

/** Writes vars, replacing the value, secrecy and owner of those the app has. */
export async function upsertConfigVars(trx: Executor, rows: NewConfigVarRow[]): Promise<void> {
  await trx
    .insertInto('config_vars')
    .values(rows)
    .onConflict((oc) =>
      oc.columns(['app_id', 'name']).doUpdateSet({
        value_sealed: (eb) => eb.ref('excluded.value_sealed'),
        secret: (eb) => eb.ref('excluded.secret'),
        attachment_id: (eb) => eb.ref('excluded.attachment_id'),
      }),
    )
    .execute();
}

/** Inserts a release; returns when the database recorded it. */
export async function insertRelease(trx: Executor, row: Insertable<ReleasesTable>): Promise<Date> {
  const inserted = await trx.insertInto('releases').values(row).returning(['created_at']).executeTakeFirstOrThrow();
  return inserted.created_at;
}

export async function setAppReleaseVersion(trx: Executor, appId: string, version: number): Promise<void> {
  await trx
    .updateTable('apps')
    .set({ release_version: version, updated_at: sql`now()` })
    .where('id', '=', appId)
    .execute();
}

/** The sealed snapshot of every var an earlier release left; undefined when there is no such release. */
export async function findReleaseVarsSealed(db: Executor, appId: string, version: number): Promise<string | undefined> {
  const row = await db
    .selectFrom('releases')
    .select('vars_sealed')
    .where('app_id', '=', appId)
    .where('version', '=', version)
    .executeTakeFirst();
  return row?.vars_sealed;
}

/** The app's newest releases first, at most `limit`. */
export async function listReleaseRows(
  db: Executor,
  appId: string,
  limit: number,
): Promise<Pick<ReleaseRow, 'version' | 'diff' | 'kept' | 'actor' | 'reason' | 'created_at'>[]> {
  return db
    .selectFrom('releases')
    .select(['version', 'diff', 'kept', 'actor', 'reason', 'created_at'])
    .where('app_id', '=', appId)
    .orderBy('version', 'desc')
    .limit(limit)
    .execute();
}

/** Appends an event (its detail as JSON text) to the app's stream. */
export async function insertAppEvents(
  db: Executor,
  events: readonly { appId: string; addonId: string | null; kind: string; detail: string }[],
): Promise<void> {
  if (events.length === 0) return;
  await db
    .insertInto('app_events')
    .values(events.map((e) => ({ app_id: e.appId, addon_id: e.addonId, kind: e.kind, detail: e.detail })))
    .execute();
}
