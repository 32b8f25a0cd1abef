import { type AppEventsTable, type AppsTable, executePrepared } from '@annex/platform';
import type { Insertable, Selectable } from 'kysely';
import type { Executor } from '../../shared/db/executor.js';
import { type AppRow, type AppViewRow, isUuid } from './store.js';

/** The app with this id (when `ref` is a UUID) or name, of any organization; locked when `forUpdate`. */
export async function findAppByRef(db: Executor, ref: string, forUpdate = false): Promise<AppRow | undefined> {
  let query = db
    .selectFrom('apps')
    .selectAll()
    .where(isUuid(ref) ? 'id' : 'name', '=', ref);
  if (forUpdate) query = query.forUpdate();
  return query.executeTakeFirst();
}

/**
 * The id of the app named `ref`, or with id `ref` when it is a UUID, among the apps of these
 * organizations (`'all'`: of any).
 */
export async function findAppIdByNameOrId(
  db: Executor,
  ref: string,
  organizationIds: readonly string[] | 'all',
): Promise<string | undefined> {
  let query = db.selectFrom('apps').select('id');
  query = isUuid(ref)
    ? query.where((eb) => eb.or([eb('id', '=', ref), eb('name', '=', ref)]))
    : query.where('name', '=', ref);
  if (organizationIds !== 'all') query = query.where('organization_id', 'in', [...organizationIds]);
  const row = await query.executeTakeFirst();
  return row?.id;
}

/** An app as a list shows it: with its organization's slug and where its events stand. */
export type ListedAppRow = AppViewRow & { organization_slug: string; last_event_id: string };

const LISTED_APP_COLUMNS = `
  a.id, a.name, a.organization_id, a.release_version, a.created_at, o.slug as organization_slug,
  coalesce((select max(e.id) from app_events e where e.app_id = a.id), 0)::text as last_event_id
  from apps a join organizations o on o.id = a.organization_id`;
const LIST_APPS_OF = `select ${LISTED_APP_COLUMNS} where a.organization_id = any($1::uuid[]) order by a.name`;
const LIST_ALL_APPS = `select ${LISTED_APP_COLUMNS} order by a.name`;

/**
 * The apps of these organizations (`'all'`: of any; the list must not be empty), by name, each
 * with its organization's slug and the id of its latest event ('0': none), in the one statement
 * (the same text for any number of organizations, so it runs prepared).
 */
export async function listAppsOf(db: Executor, organizationIds: readonly string[] | 'all'): Promise<ListedAppRow[]> {
  if (organizationIds === 'all') return executePrepared<ListedAppRow>(db, 'list_all_apps', LIST_ALL_APPS, []);
  return executePrepared<ListedAppRow>(db, 'list_apps_of', LIST_APPS_OF, [organizationIds]);
}

/** Inserts the app unless its name is taken; returns the new row, or undefined when taken. */
export async function insertAppUnlessNameTaken(db: Executor, row: Insertable<AppsTable>): Promise<AppRow | undefined> {
  return db
    .insertInto('apps')
    .values(row)
    .onConflict((oc) => oc.column('name').doNothing())
    .returningAll()
    .executeTakeFirst();
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

/** An app event with the name of the add-on it is about, if any. */
export type AppEventRow = Pick<Selectable<AppEventsTable>, 'id' | 'kind' | 'detail' | 'created_at'> & {
  addon: string | null;
};

/** Up to `limit` events of the app after event `afterId`, oldest first. */
export async function listAppEventsAfter(
  db: Executor,
  appId: string,
  afterId: string,
  limit: number,
): Promise<AppEventRow[]> {
  return db
    .selectFrom('app_events as e')
    .leftJoin('addons as a', 'a.id', 'e.addon_id')
    .select(['e.id', 'e.kind', 'e.detail', 'e.created_at', 'a.name as addon'])
    .where('e.app_id', '=', appId)
    .where('e.id', '>', afterId)
    .orderBy('e.id')
    .limit(limit)
    .execute();
}

/** The id of each app's latest event, by app id; an app with no event has none. One statement for any number of apps. */
export async function lastAppEventIds(db: Executor, appIds: readonly string[]): Promise<Map<string, string>> {
  if (appIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('app_events')
    .select((eb) => ['app_id', eb.fn.max('id').as('id')])
    .where('app_id', 'in', [...new Set(appIds)])
    .groupBy('app_id')
    .execute();
  return new Map(rows.map((r) => [r.app_id, String(r.id)]));
}
