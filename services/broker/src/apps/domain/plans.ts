import { findPlanById, type PlanContext } from '../../shared/db/catalog.js';
import type { Executor } from '../../shared/db/executor.js';
import { ApiFailure, invalidInput, notFoundFailure } from '../../shared/domain/api-failure.js';
import { planOffered } from '../../shared/domain/catalog.js';

/** `postgres:hobby` → the plan with its service and provider; `not_found` names what is missing. */
export async function resolvePlanRef(
  db: Executor,
  ref: string,
  organizationSlug: string,
  field = 'plan',
): Promise<PlanContext> {
  const match = /^([a-z0-9][a-z0-9-]*):([a-z0-9][a-z0-9-]*)$/.exec(ref.trim());
  if (!match) throw invalidInput(field, `expected SERVICE:PLAN (e.g. postgres:hobby), got "${ref}"`);
  const [, serviceSlug, planSlug] = match as unknown as [string, string, string];
  const row = await db
    .selectFrom('plans as p')
    .innerJoin('services as s', 's.id', 'p.service_id')
    .select('p.id')
    .where('s.slug', '=', serviceSlug)
    .where('p.slug', '=', planSlug)
    .where('p.removed_at', 'is', null)
    .where('s.removed_at', 'is', null)
    .executeTakeFirst();
  if (!row) {
    const service = await db
      .selectFrom('services')
      .select('id')
      .where('slug', '=', serviceSlug)
      .where('removed_at', 'is', null)
      .executeTakeFirst();
    throw notFoundFailure(service ? `plan "${planSlug}" of service "${serviceSlug}"` : `service "${serviceSlug}"`);
  }
  const context = await findPlanById(db, row.id);
  if (!context) throw notFoundFailure(`plan "${ref}"`);
  if (!planOffered(context.plan, [organizationSlug])) {
    throw new ApiFailure('not_offered', `plan "${ref}" is not offered to organization "${organizationSlug}"`);
  }
  if (context.plan.status !== 'active' || context.service.status !== 'active') {
    throw new ApiFailure('not_offered', `plan "${ref}" is deprecated and takes no new add-ons`);
  }
  return context;
}

/** A plan of the add-on's own service by `plan` or `service:plan`. */
export async function resolveSiblingPlan(
  db: Executor,
  serviceSlug: string,
  ref: string,
  organizationSlug: string,
): Promise<PlanContext> {
  const full = ref.includes(':') ? ref : `${serviceSlug}:${ref}`;
  if (!full.startsWith(`${serviceSlug}:`)) {
    throw invalidInput('plan', `an add-on of "${serviceSlug}" can only change to a plan of "${serviceSlug}"`);
  }
  return resolvePlanRef(db, full, organizationSlug);
}

export async function organizationSlug(db: Executor, organizationId: string): Promise<string> {
  const row = await db
    .selectFrom('organizations')
    .select('slug')
    .where('id', '=', organizationId)
    .executeTakeFirstOrThrow();
  return row.slug;
}
