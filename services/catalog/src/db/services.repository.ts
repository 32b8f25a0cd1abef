import type { DB, ServiceCategory, ServicesTable } from '@annex/platform';
import {
  type Expression,
  type ExpressionBuilder,
  type Insertable,
  type Kysely,
  type Selectable,
  type SqlBool,
  sql,
} from 'kysely';
import type { CategoryCount, Service } from '../domain/model.js';
import type { Viewer } from '../domain/visibility.js';
import type { Executor } from './executor.js';
import { planVisibleTo, serviceVisibleTo } from './visibility.js';

type ServiceRow = Omit<Selectable<DB['services']>, 'search' | 'dashboard_client' | 'position' | 'removed_at'>;

function toService(row: ServiceRow): Service {
  return {
    id: row.id,
    providerId: row.provider_id,
    osbId: row.osb_id,
    slug: row.slug,
    name: row.name,
    description: row.description,
    category: row.category,
    tags: row.tags,
    bindable: row.bindable,
    planUpdateable: row.plan_updateable,
    instancesRetrievable: row.instances_retrievable,
    bindingsRetrievable: row.bindings_retrievable,
    allowContextUpdates: row.allow_context_updates,
    requires: row.requires,
    documentationUrl: row.documentation_url,
    configVars: row.config_vars,
    regions: row.regions,
    metadata: row.metadata,
    status: row.status,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

// What `toService` reads: not the tsvector, the sealed dashboard client or bookkeeping.
const columns = [
  's.id',
  's.provider_id',
  's.osb_id',
  's.slug',
  's.name',
  's.description',
  's.category',
  's.tags',
  's.bindable',
  's.plan_updateable',
  's.instances_retrievable',
  's.bindings_retrievable',
  's.allow_context_updates',
  's.requires',
  's.documentation_url',
  's.config_vars',
  's.regions',
  's.metadata',
  's.status',
  's.created_at',
  's.updated_at',
] as const;

function visibleServices(db: Executor, viewer: Viewer) {
  return db
    .selectFrom('services as s')
    .select(columns)
    .where((eb) => serviceVisibleTo(viewer)(eb));
}

export async function findVisibleServicesByIds(
  db: Executor,
  viewer: Viewer,
  ids: readonly string[],
): Promise<Service[]> {
  if (ids.length === 0) return [];
  const rows = await visibleServices(db, viewer)
    .where('s.id', 'in', [...ids])
    .execute();
  return rows.map((r) => toService(r as ServiceRow));
}

export async function findVisibleServicesByProviderIds(
  db: Executor,
  viewer: Viewer,
  providerIds: readonly string[],
): Promise<Service[]> {
  if (providerIds.length === 0) return [];
  const rows = await visibleServices(db, viewer)
    .where('s.provider_id', 'in', [...providerIds])
    .orderBy('s.position')
    .orderBy('s.name')
    .orderBy('s.id')
    .execute();
  return rows.map((r) => toService(r as ServiceRow));
}

/** The visible services among these slugs (live slugs are unique), in no particular order. */
export async function findVisibleServicesBySlugs(
  db: Executor,
  viewer: Viewer,
  slugs: readonly string[],
): Promise<Service[]> {
  if (slugs.length === 0) return [];
  const rows = await visibleServices(db, viewer)
    .where('s.slug', 'in', [...slugs])
    .execute();
  return rows.map((r) => toService(r as ServiceRow));
}

export async function findVisibleService(
  db: Executor,
  viewer: Viewer,
  by: { slug: string } | { osbId: string } | { id: string },
): Promise<Service | null> {
  let query = visibleServices(db, viewer);
  if ('slug' in by) query = query.where('s.slug', '=', by.slug);
  else if ('osbId' in by) query = query.where('s.osb_id', '=', by.osbId);
  else query = query.where('s.id', '=', by.id);
  const row = await query.executeTakeFirst();
  return row ? toService(row as ServiceRow) : null;
}

export interface ServiceFilter {
  category?: ServiceCategory | null;
  /** Services carrying every one of these tags. */
  tags?: readonly string[] | null;
  /** A `to_tsquery` expression built by `searchQuery`. */
  tsquery?: string | null;
  region?: string | null;
  freeOnly?: boolean | null;
  providerSlug?: string | null;
}

/** Where a page starts: after this row in the listing's order. */
export type ServiceCursor = { name: string; id: string } | { rank: number; name: string; id: string };

export interface ServicePageRow {
  service: Service;
  /** Search rank (present when searching). */
  rank: number | null;
}

/** SQL: service `s` matches the filter (search aside, which the caller adds with its rank). */
function matchesFilter(viewer: Viewer, filter: ServiceFilter) {
  return (eb: ExpressionBuilder<DB & { s: DB['services'] }, 's'>) => {
    const conditions: Expression<SqlBool>[] = [serviceVisibleTo(viewer)(eb)];
    if (filter.category) conditions.push(eb('s.category', '=', filter.category));
    if (filter.tags && filter.tags.length > 0) conditions.push(sql<SqlBool>`s.tags @> ${[...filter.tags]}::text[]`);
    if (filter.region) conditions.push(sql<SqlBool>`${filter.region} = any(s.regions)`);
    if (filter.tsquery) conditions.push(sql<SqlBool>`s.search @@ to_tsquery('english', ${filter.tsquery})`);
    if (filter.providerSlug) {
      const slug = filter.providerSlug;
      conditions.push(
        eb('s.provider_id', 'in', eb.selectFrom('providers').select('providers.id').where('providers.slug', '=', slug)),
      );
    }
    if (filter.freeOnly) {
      conditions.push(
        eb.exists(
          eb
            .selectFrom('plans as p')
            .select(sql.lit(1).as('one'))
            .whereRef('p.service_id', '=', 's.id')
            .where('p.free', '=', true)
            .where((inner) => planVisibleTo(viewer)(inner as never)),
        ),
      );
    }
    return eb.and(conditions);
  };
}

/**
 * One page of the visible services matching a filter, in a stable order: by name then
 * id, or, when searching, by rank (best first) then name and id. Keyset pagination, so
 * a page costs the same wherever it starts.
 */
export async function pageVisibleServices(
  db: Executor,
  viewer: Viewer,
  filter: ServiceFilter,
  page: { limit: number; after: ServiceCursor | null },
): Promise<ServicePageRow[]> {
  const tsquery = filter.tsquery ?? null;
  const rank = tsquery ? sql<number>`ts_rank(s.search, to_tsquery('english', ${tsquery}))::float8` : null;
  let query = db
    .selectFrom('services as s')
    .select(columns)
    .select(rank ? rank.as('rank') : sql<null>`null`.as('rank'))
    .where(matchesFilter(viewer, filter));
  const after = page.after;
  if (rank) {
    if (after && 'rank' in after) {
      query = query.where(
        sql<SqlBool>`(${rank} < ${after.rank} or (${rank} = ${after.rank} and (s.name, s.id) > (${after.name}, ${after.id}::uuid)))`,
      );
    }
    query = query.orderBy(rank, 'desc');
  } else if (after) {
    query = query.where(sql<SqlBool>`(s.name, s.id) > (${after.name}, ${after.id}::uuid)`);
  }
  const ordered = query.orderBy('s.name').orderBy('s.id').limit(page.limit);
  let rows: Awaited<ReturnType<typeof ordered.execute>>;
  if (tsquery && !db.isTransaction) {
    // The planner prices a text-search match like any cheap operator, so once a term
    // matches a few percent of the catalog it prefers testing every row (or walking
    // another index) over the GIN index, and search cost grew with the catalog rather
    // than with its matches. For this one statement: no sequential scan, and random
    // reads priced as on the SSDs this runs on.
    rows = await (db as Kysely<DB>).transaction().execute(async (trx) => {
      await sql`set local enable_seqscan = off`.execute(trx);
      await sql`set local random_page_cost = 1.1`.execute(trx);
      return trx.executeQuery(ordered.compile()).then((r) => r.rows as typeof rows);
    });
  } else {
    rows = await ordered.execute();
  }
  return rows.map((row) => ({
    service: toService(row as unknown as ServiceRow),
    rank: (row as { rank: number | null }).rank,
  }));
}

/** How many visible services match the filter (for a connection's totalCount). */
export async function countVisibleServices(db: Executor, viewer: Viewer, filter: ServiceFilter): Promise<number> {
  const row = await db
    .selectFrom('services as s')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where(matchesFilter(viewer, filter))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Visible services per category (categories without any are absent). */
export async function countVisibleServicesByCategory(db: Executor, viewer: Viewer): Promise<CategoryCount[]> {
  const rows = await db
    .selectFrom('services as s')
    .select(['s.category', (eb) => eb.fn.countAll<number>().as('n')])
    .where((eb) => serviceVisibleTo(viewer)(eb))
    .groupBy('s.category')
    .execute();
  return rows.map((r) => ({ category: r.category, serviceCount: Number(r.n) }));
}

// --- publishing ---

export interface StoredService {
  id: string;
  osbId: string;
  slug: string;
  providerId: string;
}

/** Live services holding any of these OSB ids or slugs, whoever owns them. */
export async function findServicesByOsbIdsOrSlugs(
  db: Executor,
  osbIds: readonly string[],
  slugs: readonly string[],
): Promise<StoredService[]> {
  if (osbIds.length === 0 && slugs.length === 0) return [];
  const rows = await db
    .selectFrom('services')
    .select(['id', 'osb_id', 'slug', 'provider_id', 'removed_at'])
    .where((eb) =>
      eb.or([
        ...(osbIds.length > 0 ? [eb('osb_id', 'in', [...osbIds])] : []),
        ...(slugs.length > 0 ? [eb.and([eb('slug', 'in', [...slugs]), eb('removed_at', 'is', null)])] : []),
      ]),
    )
    .execute();
  return rows.map((r) => ({ id: r.id, osbId: r.osb_id, slug: r.slug, providerId: r.provider_id }));
}

/** The provider's services still in the catalog. */
export async function findLiveServicesOfProvider(db: Executor, providerId: string): Promise<StoredService[]> {
  const rows = await db
    .selectFrom('services')
    .select(['id', 'osb_id', 'slug', 'provider_id'])
    .where('provider_id', '=', providerId)
    .where('removed_at', 'is', null)
    .execute();
  return rows.map((r) => ({ id: r.id, osbId: r.osb_id, slug: r.slug, providerId: r.provider_id }));
}

/** Moves slugs out of the way so a publish can swap or reuse them within one provider. */
export async function parkServiceSlugs(db: Executor, providerId: string): Promise<void> {
  await db
    .updateTable('services')
    .set({ slug: sql<string>`'~publishing~' || id::text` })
    .where('provider_id', '=', providerId)
    .where('removed_at', 'is', null)
    .execute();
}

export type ServiceValues = Omit<Insertable<ServicesTable>, 'id' | 'search' | 'created_at' | 'updated_at'>;

/** Inserts or updates a service by its OSB id (which the caller checked belongs to this provider). */
export async function upsertService(db: Executor, values: ServiceValues): Promise<string> {
  const now = new Date();
  const { provider_id: _provider, osb_id: _osbId, ...changes } = values;
  const row = await db
    .insertInto('services')
    .values({ ...values, updated_at: now, removed_at: null })
    .onConflict((oc) => oc.column('osb_id').doUpdateSet({ ...changes, updated_at: now, removed_at: null }))
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

export async function deleteServices(db: Executor, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await db
    .deleteFrom('services')
    .where('id', 'in', [...ids])
    .execute();
}

export async function markServicesRemoved(db: Executor, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await db
    .updateTable('services')
    .set({ removed_at: new Date(), updated_at: new Date() })
    .where('id', 'in', [...ids])
    .execute();
}

/** Category by OSB id of the provider's live services. */
export async function findServiceCategories(db: Executor, providerId: string): Promise<Map<string, string>> {
  const rows = await db
    .selectFrom('services')
    .select(['osb_id', 'category'])
    .where('provider_id', '=', providerId)
    .where('removed_at', 'is', null)
    .execute();
  return new Map(rows.map((r) => [r.osb_id, r.category]));
}

/** Recomputes `has_public_plans` for a provider's services (end of every publish). */
export async function refreshPublicFlags(db: Executor, providerId: string): Promise<void> {
  await db
    .updateTable('services as s')
    .set({
      has_public_plans: sql<boolean>`exists (
        select 1 from plans p where p.service_id = s.id and p.removed_at is null and p.visibility = 'public')`,
    })
    .where('s.provider_id', '=', providerId)
    .execute();
}
