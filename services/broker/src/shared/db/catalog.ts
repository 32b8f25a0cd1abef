import type { PlansTable, ProvidersTable, ServicesTable } from '@annex/platform';
import { type Selectable, sql } from 'kysely';
import type { Executor } from './executor.js';

export type ServiceRow = Selectable<ServicesTable>;

/**
 * SQL: the slugs of the organizations invited to service `s` when it is ALPHA (empty in any
 * other stage, where invitations do not matter), read within the statement that reads `s`.
 */
const invitedOrganizations = sql<string[]>`case when s.stage = 'alpha' then array(
  select si_o.slug from service_invitations si join organizations si_o on si_o.id = si.organization_id
  where si.service_id = s.id) else '{}'::text[] end`;
export type PlanRow = Selectable<PlansTable>;
export type ProviderRow = Selectable<ProvidersTable>;

/**
 * Services taking new instances (not DEPRECATED) of providers that have an OSB endpoint, each
 * with the organizations invited to it while ALPHA, and all their plans (the caller filters).
 */
export async function listCatalogRows(
  db: Executor,
): Promise<{ services: (ServiceRow & { invited_organizations: string[] })[]; plans: PlanRow[] }> {
  const services = await db
    .selectFrom('services as s')
    .innerJoin('providers as p', 'p.id', 's.provider_id')
    .selectAll('s')
    .select(invitedOrganizations.as('invited_organizations'))
    .where('s.stage', '<>', 'deprecated')
    .where('s.removed_at', 'is', null)
    .where('p.osb_url', 'is not', null)
    .orderBy('s.position')
    .orderBy('s.name')
    .execute();
  if (services.length === 0) return { services, plans: [] };
  const plans = await db
    .selectFrom('plans')
    .selectAll()
    .where(
      'service_id',
      'in',
      services.map((s) => s.id),
    )
    .where('removed_at', 'is', null)
    .orderBy('position')
    .orderBy('name')
    .execute();
  return { services, plans };
}

export interface PlanContext {
  service: ServiceRow;
  plan: PlanRow;
  provider: ProviderRow;
  /** Slugs of the organizations invited to the service while it is ALPHA (else empty). */
  invitedOrganizations: string[];
}

/** A plan by its OSB id, with its service and provider; `undefined` when unknown. */
export async function findPlanByOsbId(db: Executor, planOsbId: string): Promise<PlanContext | undefined> {
  return findPlanContext(db, 'p.osb_id', planOsbId);
}

/** A plan's own limit on how long an asynchronous operation is polled, in seconds, if it sets one. */
export async function findPlanPollingLimit(db: Executor, planOsbId: string): Promise<number | null | undefined> {
  const plan = await db
    .selectFrom('plans')
    .select('maximum_polling_duration')
    .where('osb_id', '=', planOsbId)
    .executeTakeFirst();
  return plan?.maximum_polling_duration;
}

/** A plan by its primary key, with its service and provider. */
export async function findPlanById(db: Executor, planId: string): Promise<PlanContext | undefined> {
  return findPlanContext(db, 'p.id', planId);
}

/** A plan neither removed nor of a removed service, by its service's slug and its own, with both rows. */
export async function findPlanBySlugs(
  db: Executor,
  serviceSlug: string,
  planSlug: string,
): Promise<PlanContext | undefined> {
  return findPlanContext(db, 'p.slug', planSlug, serviceSlug);
}

/**
 * The plan, its service and its provider in one statement: the plan's columns as they are, the
 * service's and the provider's rows as JSON, their timestamps made dates again.
 */
async function findPlanContext(
  db: Executor,
  key: 'p.id' | 'p.osb_id' | 'p.slug',
  value: string,
  serviceSlug?: string,
): Promise<PlanContext | undefined> {
  let query = db
    .selectFrom('plans as p')
    .innerJoin('services as s', 's.id', 'p.service_id')
    .innerJoin('providers as pr', 'pr.id', 's.provider_id')
    .selectAll('p')
    .select([
      sql<Record<string, unknown>>`to_jsonb(s)`.as('service_row'),
      sql<Record<string, unknown>>`to_jsonb(pr)`.as('provider_row'),
      invitedOrganizations.as('invited_organizations'),
    ])
    .where(key, '=', value);
  if (serviceSlug !== undefined) {
    query = query.where('s.slug', '=', serviceSlug).where('p.removed_at', 'is', null).where('s.removed_at', 'is', null);
  }
  const row = await query.executeTakeFirst();
  if (!row) return undefined;
  const { service_row, provider_row, invited_organizations, ...plan } = row;
  return {
    plan,
    invitedOrganizations: invited_organizations,
    service: withDates(service_row, ['created_at', 'updated_at', 'removed_at']) as ServiceRow,
    provider: withDates(provider_row, ['created_at', 'updated_at']) as ProviderRow,
  };
}

function withDates(row: Record<string, unknown>, columns: readonly string[]): Record<string, unknown> {
  const out = { ...row };
  for (const column of columns) {
    const value = out[column];
    if (typeof value === 'string') out[column] = new Date(value);
  }
  return out;
}

export async function findProviderById(db: Executor, providerId: string): Promise<ProviderRow | undefined> {
  return db.selectFrom('providers').selectAll().where('id', '=', providerId).executeTakeFirst();
}

/** A provider by its slug: id, slug and name, or undefined. */
export async function findProviderBySlug(
  db: Executor,
  slug: string,
): Promise<{ id: string; slug: string; name: string } | undefined> {
  return db.selectFrom('providers').select(['id', 'slug', 'name']).where('slug', '=', slug).executeTakeFirst();
}
