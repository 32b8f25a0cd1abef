import type { PlansTable, ProvidersTable, ServicesTable } from '@annex/platform';
import type { Selectable } from 'kysely';
import type { Executor } from './executor.js';

export type ServiceRow = Selectable<ServicesTable>;
export type PlanRow = Selectable<PlansTable>;
export type ProviderRow = Selectable<ProvidersTable>;

/** Active services of providers that have an OSB endpoint, with all their plans (the caller filters). */
export async function listCatalogRows(db: Executor): Promise<{ services: ServiceRow[]; plans: PlanRow[] }> {
  const services = await db
    .selectFrom('services as s')
    .innerJoin('providers as p', 'p.id', 's.provider_id')
    .selectAll('s')
    .where('s.status', '=', 'active')
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
}

/** A plan by its OSB id, with its service and provider; `undefined` when unknown. */
export async function findPlanByOsbId(db: Executor, planOsbId: string): Promise<PlanContext | undefined> {
  const plan = await db.selectFrom('plans').selectAll().where('osb_id', '=', planOsbId).executeTakeFirst();
  return plan ? withServiceAndProvider(db, plan) : undefined;
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
  const plan = await db.selectFrom('plans').selectAll().where('id', '=', planId).executeTakeFirst();
  return plan ? withServiceAndProvider(db, plan) : undefined;
}

async function withServiceAndProvider(db: Executor, plan: PlanRow): Promise<PlanContext | undefined> {
  const service = await db.selectFrom('services').selectAll().where('id', '=', plan.service_id).executeTakeFirst();
  if (!service) return undefined;
  const provider = await db
    .selectFrom('providers')
    .selectAll()
    .where('id', '=', service.provider_id)
    .executeTakeFirst();
  return provider ? { service, plan, provider } : undefined;
}

export async function findProviderById(db: Executor, providerId: string): Promise<ProviderRow | undefined> {
  return db.selectFrom('providers').selectAll().where('id', '=', providerId).executeTakeFirst();
}
