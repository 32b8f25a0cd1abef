import { isFreePlan, type PlanManifest, type ProviderManifest, type ServiceManifest } from './manifest.js';

/**
 * An OSB 2.17 catalog (`GET /v2/catalog`).
 *
 * @example
 * const catalog: OsbCatalog = provider.catalog();
 * console.log(catalog.services.length);
 */
export interface OsbCatalog {
  services: Record<string, unknown>[];
}

const defined = (entries: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(entries).filter(([, value]) => value !== undefined));

function planToOsb(plan: PlanManifest): Record<string, unknown> {
  const schemas = plan.schemas;
  return defined({
    id: plan.id,
    name: plan.slug,
    description: plan.description,
    free: isFreePlan(plan),
    bindable: plan.bindable,
    plan_updateable: plan.planUpdateable,
    binding_rotatable: plan.bindingRotatable,
    maximum_polling_duration: plan.maximumPollingDuration,
    maintenance_info: plan.maintenanceInfo,
    schemas: schemas
      ? defined({
          service_instance: schemas.instance
            ? defined({
                create: schemas.instance.create ? { parameters: schemas.instance.create } : undefined,
                update: schemas.instance.update ? { parameters: schemas.instance.update } : undefined,
              })
            : undefined,
          service_binding: schemas.binding?.create ? { create: { parameters: schemas.binding.create } } : undefined,
        })
      : undefined,
    metadata: { ...plan.metadata, ...(plan.price ? { price: plan.price } : {}) },
  });
}

function serviceToOsb(service: ServiceManifest): Record<string, unknown> {
  return defined({
    id: service.id,
    name: service.slug,
    description: service.description,
    bindable: service.bindable,
    tags: service.tags,
    requires: service.requires.length > 0 ? service.requires : undefined,
    instances_retrievable: service.instancesRetrievable,
    bindings_retrievable: service.bindingsRetrievable,
    allow_context_updates: service.allowContextUpdates,
    plan_updateable: service.planUpdateable,
    metadata: defined({
      ...service.metadata,
      displayName: service.name,
      documentationUrl: service.documentationUrl,
      configVars: service.configVars,
    }),
    dashboard_client: service.dashboardClient
      ? defined({
          id: service.dashboardClient.id,
          secret: service.dashboardClient.secret,
          redirect_uri: service.dashboardClient.redirectUri,
        })
      : undefined,
    plans: service.plans.map(planToOsb),
  });
}

/**
 * The OSB catalog a manifest describes (snake_case, as the broker reads it).
 *
 * @example
 * const catalog = manifestToOsbCatalog(validated.manifest);
 * catalog.services[0]?.plans;
 */
export function manifestToOsbCatalog(manifest: ProviderManifest): OsbCatalog {
  return { services: manifest.services.map(serviceToOsb) };
}
