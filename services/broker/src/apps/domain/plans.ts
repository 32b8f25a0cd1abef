import { findPlanBySlugs, type PlanContext } from '../../shared/db/catalog.js';
import type { Executor } from '../../shared/db/executor.js';
import { type ApiCaller, ApiFailure, invalidInput, notFoundFailure } from '../../shared/domain/api-failure.js';
import { newInstanceRefusal, planOffered } from '../../shared/domain/catalog.js';
import { organizationSlugById } from '../db/organizations.js';
import { serviceExists } from '../db/plans.js';

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
  const context = await findPlanBySlugs(db, serviceSlug, planSlug);
  if (!context) {
    const service = await serviceExists(db, serviceSlug);
    throw notFoundFailure(service ? `plan "${planSlug}" of service "${serviceSlug}"` : `service "${serviceSlug}"`);
  }
  const refusal = newInstanceRefusal(context.service, context.invitedOrganizations, [organizationSlug]);
  if (refusal !== null) throw new ApiFailure('not_offered', refusal);
  if (!planOffered(context.plan, [organizationSlug])) {
    throw new ApiFailure('not_offered', `plan "${ref}" is not offered to organization "${organizationSlug}"`);
  }
  if (context.plan.status !== 'active') {
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

/**
 * The slug of the organization with this id (it exists: an app or add-on belongs to it): as the
 * caller's organization token named it when it is the caller's own, read otherwise.
 */
export async function organizationSlug(db: Executor, organizationId: string, caller?: ApiCaller): Promise<string> {
  const principal = caller?.principal;
  if (principal?.kind === 'org' && principal.organizationId === organizationId) return principal.organization;
  return organizationSlugById(db, organizationId);
}
