import { createContextCache } from '@pothos/core';
import DataLoader from 'dataloader';
import { findVisiblePlans, findVisiblePlansByServiceIds } from '../db/plans.repository.js';
import { findVisibleProvidersByIds } from '../db/providers.repository.js';
import { findVisibleServicesByIds } from '../db/services.repository.js';
import type { Plan, Provider, Service } from '../domain/model.js';
import { builder, type CatalogContext } from './builder.js';

// Refs of the loadable node types, declared apart from their fields so the types can
// point at each other. Each load is one SQL statement for every id a request asks for;
// ids the caller may not see load as null.

// Global ids decode to arbitrary strings; only UUIDs can name a row.
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (id: string): boolean => UUID.test(id);

export const ProviderRef = builder.loadableNodeRef<Provider, string>('Provider', {
  id: { resolve: (provider) => provider.id },
  load: (ids: string[], ctx) => findVisibleProvidersByIds(ctx.db, ctx.viewer, ids.filter(isUuid)),
  sort: (provider) => provider.id,
});

export const ServiceRef = builder.loadableNodeRef<Service, string>('Service', {
  id: { resolve: (service) => service.id },
  load: (ids: string[], ctx) => findVisibleServicesByIds(ctx.db, ctx.viewer, ids.filter(isUuid)),
  sort: (service) => service.id,
});

export const PlanRef = builder.loadableNodeRef<Plan, string>('Plan', {
  id: { resolve: (plan) => plan.id },
  load: (ids: string[], ctx) => findVisiblePlans(ctx.db, ctx.viewer, { ids: ids.filter(isUuid) }),
  sort: (plan) => plan.id,
});

/**
 * The plans the caller can see of each service a request asks about, in manifest order: one
 * statement for all of them. Reads that get a service's plans with the service (a listing's
 * page, services by slug) prime it, so every field reads a service's plans through it.
 */
export const plansOfService = createContextCache(
  (ctx: CatalogContext) =>
    new DataLoader<string, Plan[]>(async (serviceIds) => {
      const byService = new Map<string, Plan[]>(serviceIds.map((id) => [id, []]));
      for (const plan of await findVisiblePlansByServiceIds(ctx.db, ctx.viewer, serviceIds)) {
        byService.get(plan.serviceId)?.push(plan);
      }
      return serviceIds.map((id) => byService.get(id) ?? []);
    }),
);
