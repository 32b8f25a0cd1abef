import type { DB, ListingState, ServiceCategory, ServicesTable } from '@annex/platform';
import {
  type Expression,
  type ExpressionBuilder,
  type Insertable,
  type Kysely,
  type Selectable,
  type SqlBool,
  sql,
} from 'kysely';
import type { CategoryCount, Plan, Provider, Service } from '../domain/model.js';
import type { Viewer } from '../domain/visibility.js';
import type { Executor } from './executor.js';
import { jsonRows } from './json-rows.js';
import { planFromJson, visiblePlansOfServiceAsJson } from './plans.repository.js';
import { prepared, type Slots } from './prepared.js';
import { fromJsonProvider, providerJsonRow } from './providers.repository.js';
import {
  planVisible,
  serviceVisible,
  type ViewerChoices,
  type ViewerValues,
  viewerChoices,
  viewerValues,
} from './visibility.js';

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
    stage: row.stage,
    status: row.stage === 'deprecated' ? 'deprecated' : 'active',
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
  's.stage',
  's.created_at',
  's.updated_at',
] as const;

function visibleServices(db: Executor, viewer: Viewer) {
  return db
    .selectFrom('services as s')
    .select(columns)
    .where((eb) => serviceVisible(viewerChoices(viewer), viewerValues(viewer))(eb));
}

const servicesByIds = prepared((db, viewer: ViewerChoices, v: Slots<ViewerValues & { ids: readonly string[] }>) =>
  db
    .selectFrom('services as s')
    .select(columns)
    .where((eb) => serviceVisible(viewer, v)(eb))
    .where(sql<SqlBool>`s.id = any(${v.ids}::uuid[])`),
);

export async function findVisibleServicesByIds(
  db: Executor,
  viewer: Viewer,
  ids: readonly string[],
): Promise<Service[]> {
  if (ids.length === 0) return [];
  const rows = await servicesByIds(db, viewerChoices(viewer), { ...viewerValues(viewer), ids });
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

const servicesBySlugs = prepared((db, viewer: ViewerChoices, v: Slots<ViewerValues & { slugs: readonly string[] }>) =>
  db
    .selectFrom('services as s')
    .select(columns)
    .select((eb) => visiblePlansOfServiceAsJson(viewer, v)(eb).as('plans'))
    .where((eb) => serviceVisible(viewer, v)(eb))
    .where(sql<SqlBool>`s.slug = any(${v.slugs}::text[])`),
);

/**
 * The visible services among these slugs (live slugs are unique), in no particular order,
 * each with the plans the viewer can see, in manifest order (what add-ons are named by: a
 * service's slug and a plan's), in one statement.
 */
export async function findVisibleServicesBySlugs(
  db: Executor,
  viewer: Viewer,
  slugs: readonly string[],
): Promise<{ service: Service; plans: Plan[] }[]> {
  if (slugs.length === 0) return [];
  const rows = await servicesBySlugs(db, viewerChoices(viewer), { ...viewerValues(viewer), slugs });
  return rows.map(({ plans, ...row }) => ({ service: toService(row as ServiceRow), plans: plans.map(planFromJson) }));
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
  /** The plans of the service the viewer can see, in manifest order, read in the listing's statement. */
  plans: Plan[];
}

/** A page of a listing: its services in order, and their providers (each once). */
export interface ServicePage {
  services: ServicePageRow[];
  providers: Provider[];
}

/** What a listing's SQL text depends on: the viewer's kind, which filters are set, where it starts. */
interface ListingChoices extends ViewerChoices {
  category: boolean;
  tags: boolean;
  region: boolean;
  search: boolean;
  provider: boolean;
  freeOnly: boolean;
  after: boolean;
}

/** A listing's values, passed as parameters. */
interface ListingValues extends ViewerValues {
  category: ServiceCategory | null;
  tags: readonly string[] | null;
  region: string | null;
  tsquery: string | null;
  providerSlug: string | null;
  afterRank: number | null;
  afterName: string | null;
  afterId: string | null;
  limit: number;
}

function listingOf(
  viewer: Viewer,
  filter: ServiceFilter,
  after: ServiceCursor | null,
  limit: number,
): { choices: ListingChoices; values: ListingValues } {
  const tsquery = filter.tsquery ?? null;
  // In a search, a cursor without a rank (the resolver refuses one) starts from the top.
  const from: ServiceCursor | null = after && (tsquery === null || 'rank' in after) ? after : null;
  return {
    choices: {
      ...viewerChoices(viewer),
      category: Boolean(filter.category),
      tags: Boolean(filter.tags && filter.tags.length > 0),
      region: Boolean(filter.region),
      search: tsquery !== null,
      provider: Boolean(filter.providerSlug),
      freeOnly: Boolean(filter.freeOnly),
      after: from !== null,
    },
    values: {
      ...viewerValues(viewer),
      category: filter.category ?? null,
      tags: filter.tags ?? null,
      region: filter.region ?? null,
      tsquery,
      providerSlug: filter.providerSlug ?? null,
      afterRank: from !== null && 'rank' in from ? (from.rank as number) : null,
      afterName: from?.name ?? null,
      afterId: from?.id ?? null,
      limit,
    },
  };
}

/** SQL: service `s` matches the filter (search aside, which the caller adds with its rank). */
function matchesFilter(choices: ListingChoices, v: ListingValues) {
  return (eb: ExpressionBuilder<DB & { s: DB['services'] }, 's'>) => {
    const conditions: Expression<SqlBool>[] = [serviceVisible(choices, v)(eb)];
    if (choices.category) conditions.push(sql<SqlBool>`s.category = ${v.category}`);
    if (choices.tags) conditions.push(sql<SqlBool>`s.tags @> ${v.tags}::text[]`);
    if (choices.region) conditions.push(sql<SqlBool>`${v.region} = any(s.regions)`);
    if (choices.search) conditions.push(sql<SqlBool>`s.search @@ to_tsquery('english', ${v.tsquery})`);
    if (choices.provider) {
      conditions.push(
        sql<SqlBool>`s.provider_id in (select providers.id from providers where providers.slug = ${v.providerSlug})`,
      );
    }
    if (choices.freeOnly) {
      conditions.push(
        eb.exists(
          eb
            .selectFrom('plans as p')
            .select(sql.lit(1).as('one'))
            .whereRef('p.service_id', '=', 's.id')
            .where('p.free', '=', true)
            .where((inner) => planVisible(choices, v)(inner as never)),
        ),
      );
    }
    return eb.and(conditions);
  };
}

/** A service of a listing's JSON: its row (`jsonRows`), rank and plans' rows. */
type JsonListed = [row: unknown[], rank: number | null, plans: unknown[][]];

const serviceRows = jsonRows<ServiceRow>(columns, ['created_at', 'updated_at']);

const listing = prepared((db, choices: ListingChoices, v: Slots<ListingValues>) => {
  const rank = choices.search ? sql<number>`ts_rank(s.search, to_tsquery('english', ${v.tsquery}))::float8` : null;
  let query = db
    .selectFrom('services as s')
    .select(columns)
    .select(rank ? rank.as('rank') : sql<null>`null::float8`.as('rank'))
    .where(matchesFilter(choices, v));
  if (rank) {
    if (choices.after) {
      query = query.where(
        sql<SqlBool>`(${rank} < ${v.afterRank} or (${rank} = ${v.afterRank} and (s.name, s.id) > (${v.afterName}, ${v.afterId}::uuid)))`,
      );
    }
    query = query.orderBy(rank, 'desc');
  } else if (choices.after) {
    query = query.where(sql<SqlBool>`(s.name, s.id) > (${v.afterName}, ${v.afterId}::uuid)`);
  }
  const page = query.orderBy('s.name').orderBy('s.id').limit(sql<number>`${v.limit}`);
  // The page as one JSON document: its services in the page's order, each with the plans the
  // viewer can see, and their providers once each. One text value to parse, not a typed value
  // per column per row.
  return db
    .with('page', () => page)
    .selectFrom('page as s')
    .select((eb) => [
      sql<
        JsonListed[] | null
      >`json_agg(json_build_array(${serviceRows.sql}, s.rank, ${visiblePlansOfServiceAsJson(choices, v)(eb as never)}) order by s.rank desc, s.name, s.id)`.as(
        'services',
      ),
      sql<
        unknown[][] | null
      >`(select json_agg(${providerJsonRow}) from providers pr where pr.id in (select page.provider_id from page))`.as(
        'providers',
      ),
    ]);
});

/**
 * One page of the visible services matching a filter, in a stable order: by name then
 * id, or, when searching, by rank (best first) then name and id. Keyset pagination, so
 * a page costs the same wherever it starts. Each service comes with its provider and the
 * plans the viewer can see, in the same statement: a page is one statement whatever it
 * holds, and a platform's listing asks for both.
 */
export async function pageVisibleServices(
  db: Executor,
  viewer: Viewer,
  filter: ServiceFilter,
  page: { limit: number; after: ServiceCursor | null },
): Promise<ServicePage> {
  const { choices, values } = listingOf(viewer, filter, page.after, page.limit);
  let rows: Awaited<ReturnType<typeof listing>>;
  if (choices.search && !db.isTransaction) {
    // The planner prices a text-search match like any cheap operator, so once a term
    // matches a few percent of the catalog it prefers testing every row (or walking
    // another index) over the GIN index, and search cost grew with the catalog rather
    // than with its matches. For this one statement: no sequential scan, random reads
    // priced as on the SSDs this runs on, and a plan made for this term (the embedded
    // database otherwise plans statements without their values).
    rows = await (db as Kysely<DB>).transaction().execute(async (trx) => {
      // `set local` for each, in one statement.
      await sql`select set_config('enable_seqscan', 'off', true), set_config('random_page_cost', '1.1', true),
        set_config('plan_cache_mode', 'force_custom_plan', true)`.execute(trx);
      return listing(trx, choices, values);
    });
  } else {
    rows = await listing(db, choices, values);
  }
  const { services, providers } = rows[0] ?? { services: null, providers: null };
  return {
    services: (services ?? []).map(([row, rank, plans]) => ({
      service: toService(serviceRows.read(row)),
      rank,
      plans: plans.map(planFromJson),
    })),
    providers: (providers ?? []).map(fromJsonProvider),
  };
}

/** How many visible services match the filter (for a connection's totalCount). */
export async function countVisibleServices(db: Executor, viewer: Viewer, filter: ServiceFilter): Promise<number> {
  const { choices, values } = listingOf(viewer, filter, null, 0);
  const row = await db
    .selectFrom('services as s')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where(matchesFilter(choices, values))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Visible services per category (categories without any are absent). */
export async function countVisibleServicesByCategory(db: Executor, viewer: Viewer): Promise<CategoryCount[]> {
  const rows = await db
    .selectFrom('services as s')
    .select(['s.category', (eb) => eb.fn.countAll<number>().as('n')])
    .where((eb) => serviceVisible(viewerChoices(viewer), viewerValues(viewer))(eb))
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
  stage: ListingState;
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
    .select(['id', 'osb_id', 'slug', 'provider_id', 'stage', 'removed_at'])
    .where((eb) =>
      eb.or([
        ...(osbIds.length > 0 ? [eb('osb_id', 'in', [...osbIds])] : []),
        ...(slugs.length > 0 ? [eb.and([eb('slug', 'in', [...slugs]), eb('removed_at', 'is', null)])] : []),
      ]),
    )
    .execute();
  return rows.map((r) => ({ id: r.id, osbId: r.osb_id, slug: r.slug, providerId: r.provider_id, stage: r.stage }));
}

/** The provider's services still in the catalog. */
export async function findLiveServicesOfProvider(db: Executor, providerId: string): Promise<StoredService[]> {
  const rows = await db
    .selectFrom('services')
    .select(['id', 'osb_id', 'slug', 'provider_id', 'stage'])
    .where('provider_id', '=', providerId)
    .where('removed_at', 'is', null)
    .execute();
  return rows.map((r) => ({ id: r.id, osbId: r.osb_id, slug: r.slug, providerId: r.provider_id, stage: r.stage }));
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
