import type { Executor } from './executor.js';

/** Per plan id: how many instances are live, and whether any row (live or deleted) references it. */
export async function instanceUsageOfPlans(
  db: Executor,
  planIds: readonly string[],
): Promise<Map<string, { live: number; any: number }>> {
  const usage = new Map<string, { live: number; any: number }>();
  if (planIds.length === 0) return usage;
  const rows = await db
    .selectFrom('service_instances')
    .select((eb) => [
      'plan_id',
      eb.fn.countAll<number>().as('any'),
      eb.fn.count<number>('id').filterWhere('deleted_at', 'is', null).as('live'),
    ])
    .where('plan_id', 'in', [...planIds])
    .groupBy('plan_id')
    .execute();
  for (const row of rows) usage.set(row.plan_id, { live: Number(row.live), any: Number(row.any) });
  return usage;
}

/** Service ids that any instance row (live or deleted) references. */
export async function servicesWithInstances(db: Executor, serviceIds: readonly string[]): Promise<Set<string>> {
  if (serviceIds.length === 0) return new Set();
  const rows = await db
    .selectFrom('service_instances')
    .select('service_id')
    .distinct()
    .where('service_id', 'in', [...serviceIds])
    .execute();
  return new Set(rows.map((r) => r.service_id));
}
