import type { AddonState } from '@annex/platform';
import { sql } from 'kysely';
import type { Executor } from '../../shared/db/executor.js';

/** Which of a provider's add-ons a page lists. */
export interface InstallationFilter {
  providerId: string;
  /** A plan slug. */
  plan?: string | undefined;
  state?: AddonState | undefined;
}

/** Where a page starts: after this add-on in the listing's order (newest first, then id). */
export interface InstallationPosition {
  createdAt: Date;
  id: string;
}

/**
 * One page of the provider's add-ons, newest first (ties by id), with only what the provider
 * may see of each organization: its name and how many apps it has. One statement, the count
 * of all matching rows included (`total`, the same on every row).
 */
export async function listProviderInstallations(
  db: Executor,
  filter: InstallationFilter,
  after: InstallationPosition | null,
  limit: number,
) {
  let query = db
    .selectFrom('addons as a')
    .innerJoin('services as s', 's.id', 'a.service_id')
    .innerJoin('plans as p', 'p.id', 'a.plan_id')
    .innerJoin('organizations as o', 'o.id', 'a.organization_id')
    .select([
      'a.id',
      'a.name',
      'a.state',
      'a.last_error',
      'a.created_at',
      'a.updated_at',
      'a.destroyed_at',
      's.slug as service',
      'p.slug as plan',
      'p.regions',
      'o.name as organization',
      (eb) =>
        eb
          .selectFrom('apps')
          .select((c) => c.fn.countAll<string>().as('n'))
          .whereRef('apps.organization_id', '=', 'a.organization_id')
          .as('apps'),
      sql<string>`count(*) over ()`.as('total'),
    ])
    .where('s.provider_id', '=', filter.providerId);
  if (filter.plan !== undefined) query = query.where('p.slug', '=', filter.plan);
  if (filter.state !== undefined) query = query.where('a.state', '=', filter.state);
  // The total counts every page: the window runs before the position cut, so the cut is
  // a filter on the windowed rows.
  const page = db
    .selectFrom(query.as('i'))
    .selectAll()
    .orderBy('i.created_at', 'desc')
    .orderBy('i.id', 'desc')
    .limit(limit);
  return (
    after
      ? page.where((eb) =>
          eb.or([
            eb('i.created_at', '<', after.createdAt),
            eb.and([eb('i.created_at', '=', after.createdAt), eb('i.id', '<', after.id)]),
          ]),
        )
      : page
  ).execute();
}

/**
 * How many of the provider's add-ons were live (created, not destroyed) at the end of each of
 * the last `days` UTC days, today included. One statement.
 */
export async function countActiveInstallationsByDay(
  db: Executor,
  providerId: string,
  days: number,
): Promise<{ day: string; active: number }[]> {
  const rows = await sql<{ day: string; active: string }>`
    select to_char(d.day, 'YYYY-MM-DD') as day,
      (select count(*) from addons a join services s on s.id = a.service_id
        where s.provider_id = ${providerId}
          and a.created_at < d.day + interval '1 day'
          and (a.destroyed_at is null or a.destroyed_at >= d.day + interval '1 day')
          and a.state <> 'failed') as active
    from generate_series(
      date_trunc('day', now() at time zone 'UTC') - make_interval(days => ${days - 1}),
      date_trunc('day', now() at time zone 'UTC'),
      interval '1 day') as d(day)
    order by d.day`.execute(db);
  return rows.rows.map((r) => ({ day: r.day, active: Number(r.active) }));
}
