import type { ServiceBindingsTable } from '@annex/platform';
import type { Insertable, Selectable, Updateable } from 'kysely';
import type { Executor } from '../../shared/db/executor.js';

export type BindingRow = Selectable<ServiceBindingsTable>;

export async function findBinding(db: Executor, id: string, forUpdate = false): Promise<BindingRow | undefined> {
  let query = db.selectFrom('service_bindings').selectAll().where('id', '=', id);
  if (forUpdate) query = query.forUpdate();
  return query.executeTakeFirst();
}

export async function insertBindingIfAbsent(db: Executor, row: Insertable<ServiceBindingsTable>): Promise<boolean> {
  const inserted = await db
    .insertInto('service_bindings')
    .values(row)
    .onConflict((oc) => oc.column('id').doNothing())
    .returning('id')
    .executeTakeFirst();
  return inserted !== undefined;
}

export async function updateBinding(
  db: Executor,
  id: string,
  changes: Updateable<ServiceBindingsTable>,
): Promise<void> {
  await db
    .updateTable('service_bindings')
    .set({ ...changes, updated_at: new Date() })
    .where('id', '=', id)
    .execute();
}

/** Live bindings of an instance. */
export async function listLiveBindings(db: Executor, instanceId: string): Promise<BindingRow[]> {
  return db
    .selectFrom('service_bindings')
    .selectAll()
    .where('instance_id', '=', instanceId)
    .where('deleted_at', 'is', null)
    .execute();
}
