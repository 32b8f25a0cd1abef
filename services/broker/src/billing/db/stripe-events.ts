import type { StripeEventsTable } from '@annex/platform';
import type { Insertable } from 'kysely';
import type { Executor } from '../../shared/db/executor.js';

// The Stripe events received, one row per event id, with what was done with each.

export type NewStripeEvent = Insertable<StripeEventsTable>;

export async function findStripeEvent(db: Executor, id: string): Promise<{ id: string } | undefined> {
  return db.selectFrom('stripe_events').select('id').where('id', '=', id).executeTakeFirst();
}

/** Stores the event unless its id is stored already; returns whether it did. */
export async function insertStripeEventIfAbsent(db: Executor, event: NewStripeEvent): Promise<boolean> {
  const fresh = await db
    .insertInto('stripe_events')
    .values(event)
    .onConflict((oc) => oc.column('id').doNothing())
    .returning('id')
    .executeTakeFirst();
  return fresh !== undefined;
}

export async function setStripeEventOutcome(db: Executor, id: string, outcome: string): Promise<void> {
  await db.updateTable('stripe_events').set({ outcome }).where('id', '=', id).execute();
}
