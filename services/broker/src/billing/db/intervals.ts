import type { UsageIntervalsTable } from '@annex/platform';
import { type Insertable, sql } from 'kysely';
import type { Executor } from '../../shared/db/executor.js';

// The ledger's plan intervals: one row per add-on and plan while it is billed for it.

export type NewInterval = Insertable<UsageIntervalsTable>;

/** The id of the add-on's open interval, if it has one. */
export async function findOpenInterval(db: Executor, addonId: string): Promise<{ id: string } | undefined> {
  return db
    .selectFrom('usage_intervals')
    .select('id')
    .where('addon_id', '=', addonId)
    .where('ended_at', 'is', null)
    .executeTakeFirst();
}

/**
 * Opens the add-on's interval on `planId` at `at`, priced from the plan (free plans at 0),
 * unless one is open already: one statement, the check and the insert together.
 */
export async function insertIntervalUnlessOpen(
  db: Executor,
  addon: { id: string; organization_id: string; app_id: string },
  planId: string,
  at: Date,
): Promise<void> {
  await db
    .insertInto('usage_intervals')
    .columns([
      'addon_id',
      'organization_id',
      'app_id',
      'plan_id',
      'provider_id',
      'price_cents',
      'currency',
      'started_at',
      'ended_at',
    ])
    .expression((eb) =>
      eb
        .selectFrom('plans as p')
        .innerJoin('services as s', 's.id', 'p.service_id')
        .select([
          sql<string>`${addon.id}::uuid`.as('addon_id'),
          sql<string>`${addon.organization_id}::uuid`.as('organization_id'),
          sql<string>`${addon.app_id}::uuid`.as('app_id'),
          'p.id',
          's.provider_id',
          sql<number>`case when p.free then 0 else p.price_cents end`.as('price_cents'),
          'p.currency',
          sql<Date>`${at}::timestamptz`.as('started_at'),
          sql<null>`null`.as('ended_at'),
        ])
        .where('p.id', '=', planId)
        .where((w) =>
          w.not(
            w.exists(
              w
                .selectFrom('usage_intervals as u')
                .select('u.id')
                .where('u.addon_id', '=', addon.id)
                .where('u.ended_at', 'is', null),
            ),
          ),
        ),
    )
    .execute();
}

/** Ends the add-on's open interval at `at`; returns how many it ended (0 or 1). */
export async function closeOpenInterval(db: Executor, addonId: string, at: Date): Promise<number> {
  const result = await db
    .updateTable('usage_intervals')
    .set({ ended_at: at })
    .where('addon_id', '=', addonId)
    .where('ended_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/**
 * The intervals of an org (optionally one app) that overlap [start, end), oldest first,
 * with the names of their add-on, app and plan.
 */
export async function listIntervalsOverlapping(
  db: Executor,
  filter: { organizationId: string; appId?: string | undefined },
  start: Date,
  end: Date,
) {
  let intervals = db
    .selectFrom('usage_intervals as i')
    .innerJoin('addons as a', 'a.id', 'i.addon_id')
    .innerJoin('apps as ap', 'ap.id', 'i.app_id')
    .innerJoin('plans as p', 'p.id', 'i.plan_id')
    .select([
      'i.addon_id',
      'a.name as addon',
      'i.app_id',
      'ap.name as app',
      'i.provider_id',
      'i.currency',
      'p.slug as plan',
      'i.price_cents',
      'i.started_at',
      'i.ended_at',
    ])
    .where('i.organization_id', '=', filter.organizationId)
    .where('i.started_at', '<', end)
    .where((eb) => eb.or([eb('i.ended_at', 'is', null), eb('i.ended_at', '>', start)]))
    .orderBy('i.started_at');
  if (filter.appId) intervals = intervals.where('i.app_id', '=', filter.appId);
  return intervals.execute();
}
