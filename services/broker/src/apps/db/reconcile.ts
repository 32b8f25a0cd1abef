import { sql } from 'kysely';
import type { Executor } from '../../shared/db/executor.js';

// The apps reconciler's leases on add-ons and attachments in progress.

const LEASE = '120 seconds';

/** The tables whose rows the reconciler moves forward. */
export type ReconciledTable = 'addons' | 'attachments';

/**
 * Leases up to `limit` rows of `table` in progress (a provisioning, plan change or destroy;
 * an attach, detach or rotation) whose lease, if any, has expired, for `owner`; returns their
 * ids. `FOR UPDATE SKIP LOCKED` lets replicas claim at once without two taking the same row.
 */
export async function claimRowsInProgress(
  db: Executor,
  table: ReconciledTable,
  owner: string,
  limit: number,
): Promise<string[]> {
  const states =
    table === 'addons' ? ['provisioning', 'changing_plan', 'destroying'] : ['attaching', 'detaching', 'rotating'];
  const result = await sql<{ id: string }>`
    update ${sql.table(table)} set lease_owner = ${owner}, lease_expires_at = now() + ${LEASE}::interval
    where id in (
      select id from ${sql.table(table)}
      where state in (${sql.join(states)}) and (lease_expires_at is null or lease_expires_at <= now())
      order by lease_expires_at nulls first
      limit ${limit}
      for update skip locked)
    returning id`.execute(db);
  return result.rows.map((r) => r.id);
}

/**
 * Ends `owner`'s lease on a row; with `recheckMs`, the row is due again that much later,
 * else at once.
 */
export async function releaseLease(
  db: Executor,
  table: ReconciledTable,
  id: string,
  owner: string,
  recheckMs: number | null,
): Promise<void> {
  await sql`
    update ${sql.table(table)} set lease_owner = null,
      lease_expires_at = ${recheckMs !== null ? sql`now() + ${`${recheckMs} milliseconds`}::interval` : sql`null`}
    where id = ${id} and lease_owner = ${owner}`.execute(db);
}

/** When the reconciler has something to look at next: a lease or a recheck ending, a binding to revoke. */
export async function nextReconcileDueAt(db: Executor): Promise<Date | null> {
  const result = await sql<{ next: Date | null }>`
    select least(
      (select min(coalesce(lease_expires_at, now())) from addons
        where state in ('provisioning', 'changing_plan', 'destroying')),
      (select min(coalesce(lease_expires_at, now())) from attachments
        where state in ('attaching', 'detaching', 'rotating')),
      (select min(revoke_after) from binding_retirements where state = 'waiting')
    ) as next`.execute(db);
  return result.rows[0]?.next ?? null;
}
