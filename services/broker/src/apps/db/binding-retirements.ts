import type { BindingRetirementsTable } from '@annex/platform';
import { type Insertable, sql } from 'kysely';
import type { Executor } from '../../shared/db/executor.js';

// Old bindings a rotation replaced, waiting for their grace period to end (or for the app to
// confirm running with the release that replaced them) before they are revoked.

/** Records a binding to revoke later, unless it is recorded already. */
export async function insertRetirement(trx: Executor, row: Insertable<BindingRetirementsTable>): Promise<void> {
  await trx
    .insertInto('binding_retirements')
    .values(row)
    .onConflict((oc) => oc.column('binding_id').doNothing())
    .execute();
}

/** The bindings of an attachment still waiting to be revoked. */
export async function waitingRetirementsOf(db: Executor, attachmentId: string): Promise<{ binding_id: string }[]> {
  return db
    .selectFrom('binding_retirements')
    .select('binding_id')
    .where('attachment_id', '=', attachmentId)
    .where('state', '=', 'waiting')
    .execute();
}

/** Marks every binding of an attachment still waiting as revoked. */
export async function revokeRetirementsOf(db: Executor, attachmentId: string): Promise<void> {
  await db
    .updateTable('binding_retirements')
    .set({ state: 'revoked', revoked_at: new Date() })
    .where('attachment_id', '=', attachmentId)
    .where('state', '=', 'waiting')
    .execute();
}

/**
 * Up to `limit` waiting bindings due for revocation: their grace period is over, or their app
 * confirmed running with the release that replaced them.
 */
export async function listDueRetirements(
  db: Executor,
  limit: number,
): Promise<{ binding_id: string; app_id: string; addon_id: string; release_version: number }[]> {
  return db
    .selectFrom('binding_retirements as r')
    .innerJoin('attachments as a', 'a.id', 'r.attachment_id')
    .select(['r.binding_id', 'r.app_id', 'a.addon_id', 'r.release_version'])
    .where('r.state', '=', 'waiting')
    .where((eb) =>
      eb.or([
        eb('r.revoke_after', '<=', sql<Date>`now()`),
        eb('a.confirmed_release', '>=', eb.ref('r.release_version')),
      ]),
    )
    .limit(limit)
    .execute();
}

/** Marks one binding as revoked, if it was still waiting. */
export async function revokeRetirement(db: Executor, bindingId: string): Promise<void> {
  await db
    .updateTable('binding_retirements')
    .set({ state: 'revoked', revoked_at: new Date() })
    .where('binding_id', '=', bindingId)
    .where('state', '=', 'waiting')
    .execute();
}
