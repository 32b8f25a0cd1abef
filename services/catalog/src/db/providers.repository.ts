import type { DB, ProvidersTable } from '@annex/platform';
import { type Insertable, type Selectable, type SqlBool, sql, type Updateable } from 'kysely';
import type { Provider } from '../domain/model.js';
import type { Viewer } from '../domain/visibility.js';
import type { Executor } from './executor.js';
import { jsonRows } from './json-rows.js';
import { prepared, type Slots } from './prepared.js';
import { serviceVisible, type ViewerChoices, type ViewerValues, viewerChoices, viewerValues } from './visibility.js';

export type ProviderRow = Omit<
  Selectable<DB['providers']>,
  'osb_username' | 'osb_password_secret' | 'owner_organization_id'
>;

// What `toProvider` reads: not the broker credentials or the owner.
const columns = [
  'pr.id',
  'pr.slug',
  'pr.name',
  'pr.description',
  'pr.support_email',
  'pr.support_url',
  'pr.logo_url',
  'pr.listing_state',
  'pr.osb_url',
  'pr.osb_auth_kind',
  'pr.source',
  'pr.current_revision',
  'pr.created_at',
  'pr.updated_at',
] as const;

export function toProvider(row: ProviderRow): Provider {
  return {
    id: row.id,
    slug: row.slug,
    name: row.name,
    description: row.description,
    supportEmail: row.support_email,
    supportUrl: row.support_url,
    logoUrl: row.logo_url,
    listingState: row.listing_state,
    osbUrl: row.osb_url,
    osbAuthKind: row.osb_auth_kind,
    source: row.source,
    currentRevision: row.current_revision,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

const providerRows = jsonRows<ProviderRow>(columns, ['created_at', 'updated_at']);

/** SQL: provider `pr` as a JSON row (`jsonRows`) of the columns `toProvider` reads; `fromJsonProvider` reads it. */
export const providerJsonRow = providerRows.sql;

/** A provider from a row of `providerJsonRow`. */
export function fromJsonProvider(values: readonly unknown[]): Provider {
  return toProvider(providerRows.read(values));
}

/** Providers the viewer can see: those with a visible service (admins: all). */
function visibleProviders(db: Executor, viewer: ViewerChoices, values: ViewerValues) {
  let query = db.selectFrom('providers as pr').select(columns);
  if (!viewer.all) {
    query = query.where((eb) =>
      eb.exists(
        eb
          .selectFrom('services as s')
          .select('s.id')
          .whereRef('s.provider_id', '=', 'pr.id')
          .where((inner) => serviceVisible(viewer, values)(inner as never)),
      ),
    );
  }
  return query;
}

export async function listProviders(db: Executor, viewer: Viewer): Promise<Provider[]> {
  const rows = await visibleProviders(db, viewerChoices(viewer), viewerValues(viewer))
    .orderBy('pr.name')
    .orderBy('pr.id')
    .execute();
  return rows.map(toProvider);
}

const providersByIds = prepared((db, viewer: ViewerChoices, v: Slots<ViewerValues & { ids: readonly string[] }>) =>
  visibleProviders(db, viewer, v).where(sql<SqlBool>`pr.id = any(${v.ids}::uuid[])`),
);

export async function findVisibleProvidersByIds(
  db: Executor,
  viewer: Viewer,
  ids: readonly string[],
): Promise<Provider[]> {
  if (ids.length === 0) return [];
  const rows = await providersByIds(db, viewerChoices(viewer), { ...viewerValues(viewer), ids });
  return rows.map(toProvider);
}

export async function findVisibleProviderBySlug(db: Executor, viewer: Viewer, slug: string): Promise<Provider | null> {
  const row = await visibleProviders(db, viewerChoices(viewer), viewerValues(viewer))
    .where('pr.slug', '=', slug)
    .executeTakeFirst();
  return row ? toProvider(row) : null;
}

/** Any provider, visible or not: for publishing and administration. */
export async function findProviderBySlug(db: Executor, slug: string): Promise<Provider | null> {
  const row = await db.selectFrom('providers').selectAll().where('slug', '=', slug).executeTakeFirst();
  return row ? toProvider(row) : null;
}

export async function findProviderById(db: Executor, id: string): Promise<Provider | null> {
  const row = await db.selectFrom('providers').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? toProvider(row) : null;
}

/** Locks the provider row for the rest of the transaction (publishes of one provider queue). */
export async function lockProvider(db: Executor, id: string): Promise<Provider> {
  const row = await db.selectFrom('providers').selectAll().where('id', '=', id).forUpdate().executeTakeFirstOrThrow();
  return toProvider(row);
}

/** Inserts a provider unless the slug exists; returns the new row or `null`. */
export async function insertProvider(
  db: Executor,
  values: Omit<Insertable<ProvidersTable>, 'updated_at'>,
): Promise<Provider | null> {
  const row = await db
    .insertInto('providers')
    .values({ ...values, updated_at: new Date() })
    .onConflict((oc) => oc.column('slug').doNothing())
    .returningAll()
    .executeTakeFirst();
  return row ? toProvider(row) : null;
}

export async function updateProvider(
  db: Executor,
  id: string,
  values: Omit<Updateable<ProvidersTable>, 'id' | 'updated_at'>,
): Promise<void> {
  await db
    .updateTable('providers')
    .set({ ...values, updated_at: new Date() })
    .where('id', '=', id)
    .execute();
}

/** The broker credentials of an OSB-broker provider (password still sealed). */
export async function findBrokerCredentials(
  db: Executor,
  id: string,
): Promise<{ url: string | null; username: string | null; passwordSecret: string | null }> {
  const row = await db
    .selectFrom('providers')
    .select(['osb_url', 'osb_username', 'osb_password_secret'])
    .where('id', '=', id)
    .executeTakeFirstOrThrow();
  return { url: row.osb_url, username: row.osb_username, passwordSecret: row.osb_password_secret };
}
