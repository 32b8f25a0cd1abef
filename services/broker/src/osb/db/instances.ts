import type { ServiceInstancesTable } from '@annex/platform';
import type { Insertable, Selectable, Updateable } from 'kysely';
import type { Executor } from '../../shared/db/executor.js';

export type InstanceRow = Selectable<ServiceInstancesTable>;

/** The instance row with this platform id, live or not; locked when `forUpdate`. */
export async function findInstance(db: Executor, id: string, forUpdate = false): Promise<InstanceRow | undefined> {
  let query = db.selectFrom('service_instances').selectAll().where('id', '=', id);
  if (forUpdate) query = query.forUpdate();
  return query.executeTakeFirst();
}

/** Inserts the row unless the id exists (another request or replica won); returns whether it did. */
export async function insertInstanceIfAbsent(db: Executor, row: Insertable<ServiceInstancesTable>): Promise<boolean> {
  const inserted = await db
    .insertInto('service_instances')
    .values(row)
    // Any unique conflict (the id, or the deterministic provider-side id derived from it).
    .onConflict((oc) => oc.doNothing())
    .returning('id')
    .executeTakeFirst();
  return inserted !== undefined;
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
