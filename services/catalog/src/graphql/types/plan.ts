import { decodeGlobalID } from '@pothos/plugin-relay';
import { findVisiblePlans } from '../../db/plans.repository.js';
import type { Plan, Service } from '../../domain/model.js';
import { builder } from '../builder.js';
import { isUuid, PlanRef, ServiceRef } from '../refs.js';
import { StatusEnum, VisibilityEnum } from './enums.js';
import { MaintenanceInfoRef, PriceRef } from './price.js';

/** A plan's flag: its own override, else its service's. */
async function effective(
  plan: Plan,
  ctx: Parameters<typeof ServiceRef.getDataloader>[0],
  pick: (service: Service) => boolean,
  override: boolean | null,
): Promise<boolean> {
  if (override !== null) return override;
  const service = (await ServiceRef.getDataloader(ctx).load(plan.serviceId)) as Service | null;
  return service ? pick(service) : false;
}

PlanRef.implement({
  description: 'What a customer chooses when provisioning a service: a price and a set of limits.',
  fields: (t) => ({
    osbId: t.exposeString('osbId', { description: 'The OSB plan id; immutable.' }),
    slug: t.exposeString('slug'),
    name: t.exposeString('name'),
    description: t.exposeString('description'),
    free: t.exposeBoolean('free'),
    price: t.field({ type: PriceRef, resolve: (plan) => plan.price }),
    bindable: t.boolean({
      description: "Whether instances of this plan can be bound: the plan's override, else the service's.",
      resolve: (plan, _args, ctx) => effective(plan, ctx, (s) => s.bindable, plan.bindable),
    }),
    planUpdateable: t.boolean({
      description: "Whether an instance can change to another plan: the plan's override, else the service's.",
      resolve: (plan, _args, ctx) => effective(plan, ctx, (s) => s.planUpdateable, plan.planUpdateable),
    }),
    bindingRotatable: t.boolean({
      description: 'Whether bindings can be rotated (OSB 2.17); false unless the plan says so.',
      resolve: (plan) => plan.bindingRotatable ?? false,
    }),
    maintenanceInfo: t.field({ type: MaintenanceInfoRef, nullable: true, resolve: (plan) => plan.maintenanceInfo }),
    maximumPollingDuration: t.exposeInt('maximumPollingDuration', {
      nullable: true,
      description: 'Seconds a platform should keep polling an asynchronous operation.',
    }),
    schemas: t.field({
      type: 'JSON',
      nullable: true,
      description:
        'Parameter JSON Schemas in OSB shape: `{ service_instance: { create: { parameters }, update: { parameters } }, service_binding: { create: { parameters } } }`.',
      resolve: (plan) => plan.schemas,
    }),
    visibility: t.expose('visibility', { type: VisibilityEnum }),
    allowedOrganizations: t.stringList({
      nullable: true,
      description: 'Organizations that may see a private plan. Admins only (null for everyone else).',
      resolve: (plan, _args, ctx) => (ctx.principal.kind === 'admin' ? plan.allowedOrganizations : null),
    }),
    regions: t.exposeStringList('regions'),
    status: t.expose('status', { type: StatusEnum }),
    deprecated: t.boolean({ resolve: (plan) => plan.status === 'deprecated' }),
    metadata: t.field({ type: 'JSON', resolve: (plan) => plan.metadata }),
    service: t.field({ type: ServiceRef, resolve: (plan) => plan.serviceId }),
  }),
});

builder.queryField('plan', (t) =>
  t.field({
    type: PlanRef,
    nullable: true,
    description: 'A plan by global id or OSB id; null when it does not exist or the caller may not see it.',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => {
      const id = String(args.id);
      const global = decodeGlobal(id);
      if (global?.typename === 'Plan') return isUuid(global.id) ? global.id : null;
      const [plan] = await findVisiblePlans(ctx.db, ctx.viewer, { osbId: id });
      return plan ?? null;
    },
  }),
);

export function decodeGlobal(id: string): { typename: string; id: string } | null {
  try {
    const decoded = decodeGlobalID(id);
    return decoded.typename && decoded.id ? decoded : null;
  } catch {
    return null;
  }
}
