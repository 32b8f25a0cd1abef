import type { Executor } from '../../shared/db/executor.js';

// The catalog as the apps module reads it: plans and services by slug, for add-ons.

/** Whether a service with this slug exists and was not removed. */
export async function serviceExists(db: Executor, serviceSlug: string): Promise<boolean> {
  const service = await db
    .selectFrom('services')
    .select('id')
    .where('slug', '=', serviceSlug)
    .where('removed_at', 'is', null)
    .executeTakeFirst();
  return service !== undefined;
}

/** The slug of the service with this id; throws when there is none. */
export async function serviceSlugById(db: Executor, id: string): Promise<string> {
  const service = await db.selectFrom('services').select('slug').where('id', '=', id).executeTakeFirstOrThrow();
  return service.slug;
}

/** The slug and declared config vars of the service with this id; throws when there is none. */
export async function serviceConfigVarsById(
  db: Executor,
  id: string,
): Promise<{ slug: string; config_vars: string[] }> {
  return db.selectFrom('services').select(['slug', 'config_vars']).where('id', '=', id).executeTakeFirstOrThrow();
}

/** Plans by id with their slug, their service's and their provider's. */
export async function planSlugsByIds(
  db: Executor,
  ids: readonly string[],
): Promise<Map<string, { plan: string; service: string; provider: string }>> {
  const rows = await db
    .selectFrom('plans as p')
    .innerJoin('services as s', 's.id', 'p.service_id')
    .innerJoin('providers as pr', 'pr.id', 's.provider_id')
    .select(['p.id', 'p.slug as plan', 's.slug as service', 'pr.slug as provider'])
    .where('p.id', 'in', [...new Set(ids)])
    .execute();
  return new Map(rows.map((p) => [p.id, { plan: p.plan, service: p.service, provider: p.provider }]));
}
