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

/** Changes a binding only while it is as an operation left it: the same provider-side id, in `state`. */
export async function updateBindingInState(
  db: Executor,
  where: { id: string; providerBindingId: string; state: string },
  changes: Updateable<ServiceBindingsTable>,
): Promise<void> {
  await db
    .updateTable('service_bindings')
    .set({ ...changes, updated_at: new Date() })
    .where('id', '=', where.id)
    .where('provider_binding_id', '=', where.providerBindingId)
    .where('state', '=', where.state as never)
    .execute();
}

/** Ends every live binding of a deprovisioned instance. */
export async function unbindAllOfInstance(db: Executor, instanceId: string): Promise<void> {
  await db
    .updateTable('service_bindings')
    .set({ state: 'unbound', deleted_at: new Date(), updated_at: new Date() })
    .where('instance_id', '=', instanceId)
    .where('deleted_at', 'is', null)
    .execute();
}
