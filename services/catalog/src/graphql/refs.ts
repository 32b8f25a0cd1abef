import { findVisiblePlans } from '../db/plans.repository.js';
import { findVisibleProvidersByIds } from '../db/providers.repository.js';
import { findVisibleServicesByIds } from '../db/services.repository.js';
import type { Plan, Provider, Service } from '../domain/model.js';
import { builder } from './builder.js';

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
