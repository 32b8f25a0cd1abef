import type { ServiceInstancesTable } from '@annex/platform';
import type { Selectable, Updateable } from 'kysely';
import type { Executor } from '../../shared/db/executor.js';

export type InstanceRow = Selectable<ServiceInstancesTable>;

/**
 * The instance row with this platform id, live or not, locked until the transaction ends:
 * `true` for a change of the instance (update, deprovision), `'share'` for a use that must not
 * overlap such a change but may overlap other uses (binds of one instance run side by side).
 */
export async function findInstance(
  db: Executor,
  id: string,
  lock: boolean | 'share' = false,
): Promise<InstanceRow | undefined> {
  let query = db.selectFrom('service_instances').selectAll().where('id', '=', id);
  if (lock === 'share') query = query.forShare();
  else if (lock) query = query.forUpdate();
  return query.executeTakeFirst();
}

export async function updateInstance(
  db: Executor,
  id: string,
  changes: Updateable<ServiceInstancesTable>,
): Promise<void> {
  await db
    .updateTable('service_instances')
    .set({ ...changes, updated_at: new Date() })
    .where('id', '=', id)
    .execute();
}

/**
 * Changes an instance only while it is as an operation left it: the same provider-side id, in
 * `state` (a later request that replaced or moved it wins).
 */
export async function updateInstanceInState(
  db: Executor,
  where: { id: string; providerInstanceId: string; state: string },
  changes: Updateable<ServiceInstancesTable>,
): Promise<void> {
  await db
    .updateTable('service_instances')
    .set({ ...changes, updated_at: new Date() })
    .where('id', '=', where.id)
    .where('provider_instance_id', '=', where.providerInstanceId)
    .where('state', '=', where.state as never)
    .execute();
}

/** The add-on's name of an instance that is an add-on (for log lines). */
export async function findAddonName(db: Executor, instanceId: string): Promise<string | undefined> {
  const row = await db.selectFrom('addons').select('name').where('id', '=', instanceId).executeTakeFirst();
  return row?.name;
}

/** Whether a live (not deleted, not failed) instance has this provider-side id. */
export async function liveInstanceHolds(db: Executor, providerInstanceId: string): Promise<boolean> {
  const live = await db
    .selectFrom('service_instances')
    .select('id')
    .where('provider_instance_id', '=', providerInstanceId)
    .where('deleted_at', 'is', null)
    .where('state', '!=', 'failed')
    .executeTakeFirst();
  return live !== undefined;
}
