import type { BrokerOperationsTable, DB } from '@annex/platform';
import { type InsertObject, type Selectable, sql, type Updateable } from 'kysely';
import type { Executor } from '../../shared/db/executor.js';

export type OperationRow = Selectable<BrokerOperationsTable>;

/**
 * Records an operation. With `lease`, it is recorded already leased to `lease.owner` for
 * `lease.ms` from the database's clock (the request that records it runs its first step).
 */
export async function insertOperation(
  db: Executor,
  row: Omit<InsertObject<DB, 'broker_operations'>, 'lease_owner' | 'lease_expires_at'>,
  lease?: { owner: string; ms: number },
): Promise<OperationRow> {
  return db
    .insertInto('broker_operations')
    .values({
      ...row,
      lease_owner: lease?.owner ?? null,
      lease_expires_at: lease ? sql<Date>`now() + ${`${lease.ms} milliseconds`}::interval` : null,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function findOperation(db: Executor, id: string): Promise<OperationRow | undefined> {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) return undefined;
  return db.selectFrom('broker_operations').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Non-terminal operations of an instance (or of one of its bindings when `bindingId` is given). */
export async function activeOperations(db: Executor, instanceId: string, bindingId?: string): Promise<OperationRow[]> {
  let query = db
    .selectFrom('broker_operations')
    .selectAll()
    .where('instance_id', '=', instanceId)
    .where('state', 'in', ['pending', 'polling'])
    .where('kind', 'not in', ['orphan_deprovision', 'orphan_unbind']);
  if (bindingId !== undefined) query = query.where('binding_id', '=', bindingId);
  return query.orderBy('created_at').execute();
}

/**
 * Moves an operation on, but only from a state it is still in (and, when given, only while
 * this lease holder owns it): a halted or retaken operation is never overwritten.
 * Returns the changed row, or undefined when it was no longer in `from`.
 */
export async function transitionOperation(
  db: Executor,
  id: string,
  from: readonly OperationRow['state'][],
  changes: Updateable<BrokerOperationsTable>,
  leaseOwner?: string,
): Promise<OperationRow | undefined> {
  let query = db
    .updateTable('broker_operations')
    .set({ ...changes, updated_at: new Date() })
    .where('id', '=', id)
    .where('state', 'in', [...from]);
  if (leaseOwner !== undefined) query = query.where('lease_owner', '=', leaseOwner);
  return query.returningAll().executeTakeFirst();
}

/**
 * Leases up to `limit` due operations for `owner`: rows whose next attempt is due and
 * whose lease (if any) has expired. `FOR UPDATE SKIP LOCKED` lets every replica claim at
 * once without two claiming the same row.
 */
export async function claimDueOperations(
  db: Executor,
  owner: string,
  leaseMs: number,
  limit: number,
): Promise<OperationRow[]> {
  const result = await sql<OperationRow>`
    update broker_operations
    set lease_owner = ${owner},
        lease_expires_at = now() + ${`${leaseMs} milliseconds`}::interval,
        attempts = attempts + 1,
        updated_at = now()
    where id in (
      select id from broker_operations
      where state in ('pending', 'polling')
        and next_attempt_at <= now()
        and (lease_expires_at is null or lease_expires_at < now())
      order by next_attempt_at
      limit ${limit}
      for update skip locked
    )
    returning *`.execute(db);
  return result.rows;
}

/**
 * When the operations worker has something to look at next: the earliest attempt due, or
 * the earliest lease to end (its holder may have died). Null when nothing is active.
 */
export async function nextOperationDueAt(db: Executor): Promise<Date | null> {
  const row = await db
    .selectFrom('broker_operations')
    .select(sql<Date | null>`min(greatest(next_attempt_at, coalesce(lease_expires_at, next_attempt_at)))`.as('next'))
    .where('state', 'in', ['pending', 'polling'])
    .executeTakeFirst();
  return row?.next ?? null;
}

/** Gives the lease back and schedules the next attempt. */
export async function rescheduleOperation(
  db: Executor,
  id: string,
  owner: string,
  nextAttemptAt: Date,
  changes: Updateable<BrokerOperationsTable> = {},
): Promise<boolean> {
  const row = await transitionOperation(
    db,
    id,
    ['pending', 'polling'],
    { ...changes, next_attempt_at: nextAttemptAt, lease_owner: null, lease_expires_at: null },
    owner,
  );
  return row !== undefined;
}

export async function countOperations(
  db: Executor,
  filter: { states?: OperationRow['state'][]; kinds?: OperationRow['kind'][] } = {},
): Promise<number> {
  let query = db.selectFrom('broker_operations').select((eb) => eb.fn.countAll<number>().as('n'));
  if (filter.states) query = query.where('state', 'in', filter.states);
  if (filter.kinds) query = query.where('kind', 'in', filter.kinds);
  const row = await query.executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Whether orphan mitigation was already scheduled for this provider-side resource. */
export async function orphanMitigationExists(
  db: Executor,
  kind: 'orphan_deprovision' | 'orphan_unbind',
  resource: { instanceId: string; providerInstanceId?: string; providerBindingId?: string },
): Promise<boolean> {
  const match =
    kind === 'orphan_deprovision'
      ? { provider_instance_id: resource.providerInstanceId }
      : { provider_binding_id: resource.providerBindingId };
  const row = await db
    .selectFrom('broker_operations')
    .select('id')
    .where('instance_id', '=', resource.instanceId)
    .where('kind', '=', kind)
    .where(sql<boolean>`request @> ${JSON.stringify(match)}::jsonb`)
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * Makes a provider's polling operation due now (the provider says it has finished).
 * Returns the operation ids it found: polling ones made due, and terminal ones as they are.
 */
export async function expediteProviderOperation(
  db: Executor,
  providerId: string,
  providerOperation: string,
): Promise<{ id: string; state: OperationRow['state'] }[]> {
  const due = await db
    .updateTable('broker_operations')
    .set({ next_attempt_at: new Date(), updated_at: new Date() })
    .where('provider_id', '=', providerId)
    .where('provider_operation', '=', providerOperation)
    .where('state', '=', 'polling')
    .returning(['id', 'state'])
    .execute();
  if (due.length > 0) return due;
  return db
    .selectFrom('broker_operations')
    .select(['id', 'state'])
    .where('provider_id', '=', providerId)
    .where('provider_operation', '=', providerOperation)
    .execute();
}
