import type { DB, PlansTable } from '@annex/platform';
import { type ExpressionBuilder, type Insertable, type Selectable, type SqlBool, sql } from 'kysely';
import type { Plan } from '../domain/model.js';
import type { Viewer } from '../domain/visibility.js';
import type { Executor } from './executor.js';
import { jsonRows } from './json-rows.js';
import { prepared, type Slots } from './prepared.js';
import {
  planVisible,
  planVisibleTo,
  serviceVisibleTo,
  type ViewerChoices,
  type ViewerValues,
  viewerChoices,
  viewerValues,
} from './visibility.js';

export type PlanRow = Omit<Selectable<DB['plans']>, 'position' | 'created_at' | 'updated_at' | 'removed_at'>;

export function toPlan(row: PlanRow): Plan {
  return {
    id: row.id,
    serviceId: row.service_id,
    osbId: row.osb_id,
    slug: row.slug,
    name: row.name,
    description: row.description,
    free: row.free,
    price: {
      monthly: row.price_cents,
      currency: row.currency,
      metered: row.metered.map((m) => ({ unit: m.unit, price: m.price, description: m.description ?? null })),
    },
    bindable: row.bindable,
    planUpdateable: row.plan_updateable,
    bindingRotatable: row.binding_rotatable,
    maintenanceInfo: row.maintenance_info
      ? { version: row.maintenance_info.version, description: row.maintenance_info.description ?? null }
      : null,
    maximumPollingDuration: row.maximum_polling_duration,
    schemas: row.schemas,
    visibility: row.visibility,
    allowedOrganizations: row.allowed_organizations,
    regions: row.regions,
    metadata: row.metadata,
    status: row.status,
  };
}

// What `toPlan` reads: not the timestamps or the ordering, which cost parsing on every row.
const columns = [
  'p.id',
  'p.service_id',
  'p.osb_id',
  'p.slug',
  'p.name',
  'p.description',
  'p.free',
  'p.price_cents',
  'p.currency',
  'p.metered',
  'p.bindable',
  'p.plan_updateable',
  'p.binding_rotatable',
  'p.maintenance_info',
  'p.maximum_polling_duration',
  'p.schemas',
  'p.visibility',
  'p.allowed_organizations',
  'p.regions',
  'p.metadata',
  'p.status',
] as const;

const planRows = jsonRows<PlanRow>(columns);

/**
 * SQL: the visible plans of service `s` as one JSON array of plan rows (`jsonRows` of the
 * columns `toPlan` reads; `planFromJson` reads one), in manifest order; `[]` when none. A
 * listing reads its services' plans in its own statement with this, and a row of it needs no
 * type parsing beyond one JSON text.
 */
export function visiblePlansOfServiceAsJson(choices: ViewerChoices, values: ViewerValues) {
  return (eb: ExpressionBuilder<DB & { s: DB['services'] }, 's'>) =>
    eb.fn.coalesce(
      eb
        .selectFrom('plans as p')
        .select(sql<unknown[][]>`json_agg(${planRows.sql} order by p.position, p.id)`.as('plans'))
        .whereRef('p.service_id', '=', 's.id')
        .where((inner) => planVisible(choices, values)(inner)),
      sql<unknown[][]>`'[]'::json`,
    );
}

/** A plan from a row of `visiblePlansOfServiceAsJson`. */
export function planFromJson(values: readonly unknown[]): Plan {
  return toPlan(planRows.read(values));
}

function visiblePlans(db: Executor, viewer: Viewer) {
  return db
    .selectFrom('plans as p')
    .select(columns)
    .where((eb) => planVisibleTo(viewer)(eb));
}

const plansOfServices = prepared(
  (db, viewer: ViewerChoices, v: Slots<ViewerValues & { serviceIds: readonly string[] }>) =>
    db
      .selectFrom('plans as p')
      .select(columns)
      .where((eb) => planVisible(viewer, v)(eb))
      .where(sql<SqlBool>`p.service_id = any(${v.serviceIds}::uuid[])`)
      .orderBy('p.position')
      .orderBy('p.id'),
);

/** The viewer's plans of these services, in manifest order. */
export async function findVisiblePlansByServiceIds(
  db: Executor,
  viewer: Viewer,
  serviceIds: readonly string[],
): Promise<Plan[]> {
  if (serviceIds.length === 0) return [];
  const rows = await plansOfServices(db, viewerChoices(viewer), { ...viewerValues(viewer), serviceIds });
  return rows.map(toPlan);
}

/** Plans the viewer can see, whose service is visible too. */
export async function findVisiblePlans(
  db: Executor,
  viewer: Viewer,
  by: { ids: readonly string[] } | { osbId: string },
): Promise<Plan[]> {
  let query = visiblePlans(db, viewer).where((eb) =>
    eb.exists(
      eb
        .selectFrom('services as s')
        .select('s.id')
        .whereRef('s.id', '=', 'p.service_id')
        .where((inner) => serviceVisibleTo(viewer)(inner as never)),
    ),
  );
  if ('ids' in by) {
    if (by.ids.length === 0) return [];
    query = query.where('p.id', 'in', [...by.ids]);
  } else {
    query = query.where('p.osb_id', '=', by.osbId);
  }
  return (await query.execute()).map(toPlan);
}

// --- publishing ---

export interface StoredPlan {
  id: string;
  osbId: string;
  serviceId: string;
  serviceOsbId: string;
  providerId: string;
}

/** Plans holding any of these OSB ids (live or removed), with their service and provider. */
export async function findPlansByOsbIds(db: Executor, osbIds: readonly string[]): Promise<StoredPlan[]> {
  if (osbIds.length === 0) return [];
  const rows = await db
    .selectFrom('plans as p')
    .innerJoin('services as s', 's.id', 'p.service_id')
    .select(['p.id', 'p.osb_id', 'p.service_id', 's.osb_id as service_osb_id', 's.provider_id'])
    .where('p.osb_id', 'in', [...osbIds])
    .execute();
  return rows.map((r) => ({
    id: r.id,
    osbId: r.osb_id,
    serviceId: r.service_id,
    serviceOsbId: r.service_osb_id,
    providerId: r.provider_id,
  }));
}

/** The provider's live plans. */
export async function findLivePlansOfProvider(db: Executor, providerId: string): Promise<StoredPlan[]> {
  const rows = await db
    .selectFrom('plans as p')
    .innerJoin('services as s', 's.id', 'p.service_id')
    .select(['p.id', 'p.osb_id', 'p.service_id', 's.osb_id as service_osb_id', 's.provider_id'])
    .where('s.provider_id', '=', providerId)
    .where('p.removed_at', 'is', null)
    .execute();
  return rows.map((r) => ({
    id: r.id,
    osbId: r.osb_id,
    serviceId: r.service_id,
    serviceOsbId: r.service_osb_id,
    providerId: r.provider_id,
  }));
}

export async function parkPlanSlugs(db: Executor, providerId: string): Promise<void> {
  await db
    .updateTable('plans')
    .set({ slug: sql<string>`'~publishing~' || id::text` })
    .where('removed_at', 'is', null)
    .where('service_id', 'in', (eb) => eb.selectFrom('services').select('id').where('provider_id', '=', providerId))
    .execute();
}

export type PlanValues = Omit<Insertable<PlansTable>, 'id' | 'created_at' | 'updated_at'>;

export async function upsertPlan(db: Executor, values: PlanValues): Promise<void> {
  const now = new Date();
  const { osb_id: _osbId, ...changes } = values;
  await db
    .insertInto('plans')
    .values({ ...values, updated_at: now, removed_at: null })
    .onConflict((oc) => oc.column('osb_id').doUpdateSet({ ...changes, updated_at: now, removed_at: null }))
    .execute();
}

export async function deletePlans(db: Executor, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await db
    .deleteFrom('plans')
    .where('id', 'in', [...ids])
    .execute();
}

export async function markPlansRemoved(db: Executor, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await db
    .updateTable('plans')
    .set({ removed_at: new Date(), updated_at: new Date() })
    .where('id', 'in', [...ids])
    .execute();
}
