import { validateParameters } from '@annex/sdk';
import { findPlanByOsbId, listCatalogRows, type PlanContext, type PlanRow, type ServiceRow } from '../db/catalog.js';
import type { Executor } from '../db/executor.js';
import type { TtlCache } from './cache.js';
import { badRequest } from './errors.js';

/** Whether a platform acting for `organizations` may use this plan for new instances. */
export function planOffered(plan: PlanRow, organizations: readonly string[] | 'all'): boolean {
  // Removed from the manifest or deprecated: kept only for the instances that use it.
  if (plan.status !== 'active' || plan.removed_at !== null) return false;
  if (plan.visibility === 'public') return true;
  if (organizations === 'all') return true;
  return plan.allowed_organizations.some((org) => organizations.includes(org));
}

/**
 * Why no new instance of `service` may be made for `organizations`, in words; `null` when it
 * may. A DEPRECATED service takes none (its instances keep working); an ALPHA one only for the
 * organizations its provider invited (`invited`). Admins (`'all'`) are refused only the first.
 */
export function newInstanceRefusal(
  service: Pick<ServiceRow, 'slug' | 'stage' | 'removed_at'>,
  invited: readonly string[],
  organizations: readonly string[] | 'all',
): string | null {
  if (service.removed_at !== null) return `service "${service.slug}" is no longer in the catalog`;
  if (service.stage === 'deprecated') {
    return `service "${service.slug}" is deprecated: it takes no new add-ons (existing ones keep working)`;
  }
  if (service.stage === 'alpha' && organizations !== 'all' && !invited.some((org) => organizations.includes(org))) {
    const who = organizations.length === 1 ? `organization "${organizations[0]}" is` : 'none of these organizations is';
    return `service "${service.slug}" is in alpha, open only to organizations its provider invited, and ${who} not invited`;
  }
  return null;
}

/** The OSB catalog (`GET /v2/catalog`) for a platform acting for `organizations`. */
export async function buildCatalog(
  db: Executor,
  organizations: readonly string[] | 'all',
): Promise<{ services: Record<string, unknown>[] }> {
  const { services, plans } = await listCatalogRows(db);
  const result: Record<string, unknown>[] = [];
  for (const service of services) {
    // An ALPHA service is listed only for platforms acting for an invited organization.
    if (newInstanceRefusal(service, service.invited_organizations, organizations) !== null) continue;
    const offered = plans.filter((plan) => plan.service_id === service.id && planOffered(plan, organizations));
    if (offered.length === 0) continue;
    result.push(
      compact({
        id: service.osb_id,
        name: service.slug,
        description: service.description,
        bindable: service.bindable,
        tags: service.tags,
        requires: service.requires.length > 0 ? service.requires : undefined,
        instances_retrievable: service.instances_retrievable,
        bindings_retrievable: service.bindings_retrievable,
        allow_context_updates: service.allow_context_updates,
        plan_updateable: service.plan_updateable,
        dashboard_client: service.dashboard_client ?? undefined,
        metadata: compact({
          displayName: service.name,
          documentationUrl: service.documentation_url ?? undefined,
          ...service.metadata,
        }),
        plans: offered.map((plan) =>
          compact({
            id: plan.osb_id,
            name: plan.slug,
            description: plan.description,
            free: plan.free,
            bindable: plan.bindable ?? undefined,
            plan_updateable: plan.plan_updateable ?? undefined,
            binding_rotatable: plan.binding_rotatable ?? undefined,
            maximum_polling_duration: plan.maximum_polling_duration ?? undefined,
            maintenance_info: plan.maintenance_info ?? undefined,
            schemas: plan.schemas ?? undefined,
            metadata: compact({
              displayName: plan.name,
              costs: plan.free ? undefined : [{ amount: { [plan.currency]: plan.price_cents / 100 }, unit: 'MONTHLY' }],
              ...plan.metadata,
            }),
          }),
        ),
      }),
    );
  }
  return { services: result };
}

function compact(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined));
}

/** Resolves the `service_id` / `plan_id` pair of a request; 400 naming what is unknown. */
export async function resolvePlan(
  db: Executor,
  serviceOsbId: string,
  planOsbId: string,
  cache?: TtlCache<PlanContext>,
): Promise<PlanContext> {
  const found = cache
    ? await cache.get(planOsbId, () => findPlanByOsbId(db, planOsbId))
    : await findPlanByOsbId(db, planOsbId);
  if (!found) throw badRequest(`plan_id "${planOsbId}" is not in the catalog`);
  if (found.service.osb_id !== serviceOsbId) {
    throw badRequest(`plan_id "${planOsbId}" does not belong to service_id "${serviceOsbId}"`);
  }
  return found;
}

/** Validates parameters against a plan schema; the 400 names each failing field. */
export function checkParameters(schema: object | undefined, parameters: Record<string, unknown>, what: string): void {
  if (!schema) return;
  const problems = validateParameters(schema as Record<string, unknown>, parameters);
  if (problems.length > 0) {
    throw badRequest(
      `${what} parameters are invalid: ${problems.map((p) => `${p.path === '/' ? 'parameters' : `parameters${p.path}`} ${p.message}`).join('; ')}`,
    );
  }
}

export function planBindable(context: PlanContext): boolean {
  return context.plan.bindable ?? context.service.bindable;
}

export function planUpdateable(context: PlanContext): boolean {
  return context.plan.plan_updateable ?? context.service.plan_updateable;
}
