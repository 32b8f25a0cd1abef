import type { ProviderCallOperation, ProviderCallOutcome } from '@annex/platform';
import { sql } from 'kysely';
import type { Executor } from '../../shared/db/executor.js';

/** One provider call as the call log keeps it until its batch is written. */
export interface ProviderCallRecord {
  providerId: string;
  /** The OSB id of the service the call named (`service_id`), resolved to the catalog's id on insert. */
  serviceOsbId: string | null;
  operation: ProviderCallOperation;
  outcome: ProviderCallOutcome;
  status: number | null;
  latencyMs: number;
  error: string | null;
  description: string | null;
  at: Date;
}

/**
 * Writes a batch of calls in one statement; each service is found by its OSB id in the same
 * statement (null when the catalog has none by that id).
 */
export async function insertProviderCalls(db: Executor, calls: readonly ProviderCallRecord[]): Promise<void> {
  if (calls.length === 0) return;
  const column = <T>(pick: (call: ProviderCallRecord) => T) => calls.map(pick);
  await sql`
    insert into provider_calls (provider_id, service_id, operation, outcome, status, latency_ms, error, description, at)
    select c.provider_id, s.id, c.operation, c.outcome, c.status, c.latency_ms, c.error, c.description, c.at
    from unnest(
      ${column((c) => c.providerId)}::uuid[],
      ${column((c) => c.serviceOsbId)}::text[],
      ${column((c) => c.operation)}::text[],
      ${column((c) => c.outcome)}::text[],
      ${column((c) => c.status)}::smallint[],
      ${column((c) => c.latencyMs)}::integer[],
      ${column((c) => c.error)}::text[],
      ${column((c) => c.description)}::text[],
      ${column((c) => c.at.toISOString())}::timestamptz[]
    ) as c(provider_id, service_osb_id, operation, outcome, status, latency_ms, error, description, at)
    left join services s on s.osb_id = c.service_osb_id`.execute(db);
}

/** Deletes calls made before `before`; answers how many. */
export async function pruneProviderCalls(db: Executor, before: Date): Promise<number> {
  const result = await db.deleteFrom('provider_calls').where('at', '<', before).executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** Which calls a health report reads: one provider's, optionally of one of its services. */
export interface CallsFilter {
  providerId: string;
  serviceId?: string;
}

function filtered(db: Executor, filter: CallsFilter, since: Date) {
  let query = db.selectFrom('provider_calls').where('provider_id', '=', filter.providerId).where('at', '>=', since);
  if (filter.serviceId) query = query.where('service_id', '=', filter.serviceId);
  return query;
}

export interface OperationStatsRow {
  /** Null on the row of every operation together. */
  operation: ProviderCallOperation | null;
  hour_count: number;
  hour_errors: number;
  hour_p50: number | null;
  hour_p99: number | null;
  month_count: number;
  month_errors: number;
  month_p50: number | null;
  month_p99: number | null;
}

/**
 * Per operation, and for every operation together (`operation` null): count, failures, p50 and
 * p99 latency since `hourSince` and since `monthSince`.
 */
export async function operationStats(
  db: Executor,
  filter: CallsFilter,
  windows: { hourSince: Date; monthSince: Date },
): Promise<OperationStatsRow[]> {
  const inHour = sql`at >= ${windows.hourSince}`;
  const rows = await filtered(db, filter, windows.monthSince)
    .select([
      'operation',
      sql<number>`(count(*) filter (where ${inHour}))::int`.as('hour_count'),
      sql<number>`(count(*) filter (where ${inHour} and outcome <> 'ok'))::int`.as('hour_errors'),
      sql<number | null>`percentile_cont(0.5) within group (order by latency_ms) filter (where ${inHour})`.as(
        'hour_p50',
      ),
      sql<number | null>`percentile_cont(0.99) within group (order by latency_ms) filter (where ${inHour})`.as(
        'hour_p99',
      ),
      sql<number>`count(*)::int`.as('month_count'),
      sql<number>`(count(*) filter (where outcome <> 'ok'))::int`.as('month_errors'),
      sql<number | null>`percentile_cont(0.5) within group (order by latency_ms)`.as('month_p50'),
      sql<number | null>`percentile_cont(0.99) within group (order by latency_ms)`.as('month_p99'),
    ])
    .groupBy(sql`grouping sets ((operation), ())`)
    .orderBy('operation')
    .execute();
  return rows as OperationStatsRow[];
}

export interface SeriesRow {
  size: 'hour' | 'day';
  bucket: Date;
  count: number;
  errors: number;
  p50: number | null;
}

/** Hourly buckets since `hourlySince` and daily (UTC) buckets since `dailySince`, in one statement. */
export async function callSeries(
  db: Executor,
  filter: CallsFilter,
  windows: { hourlySince: Date; dailySince: Date },
): Promise<SeriesRow[]> {
  const bucketOf = (size: 'hour' | 'day') =>
    filtered(db, filter, size === 'hour' ? windows.hourlySince : windows.dailySince)
      .select([
        sql<'hour' | 'day'>`${size}::text`.as('size'),
        sql<Date>`date_trunc(${sql.lit(size)}, at, 'UTC')`.as('bucket'),
        sql<number>`count(*)::int`.as('count'),
        sql<number>`(count(*) filter (where outcome <> 'ok'))::int`.as('errors'),
        sql<number | null>`percentile_cont(0.5) within group (order by latency_ms)`.as('p50'),
      ])
      .groupBy(sql`date_trunc(${sql.lit(size)}, at, 'UTC')`);
  const rows = await bucketOf('hour').unionAll(bucketOf('day')).execute();
  return rows.map((row) => ({ ...row, bucket: new Date(row.bucket) }));
}

export interface FailureRow {
  operation: ProviderCallOperation;
  service: string | null;
  outcome: ProviderCallOutcome;
  status: number | null;
  latency_ms: number;
  error: string | null;
  description: string | null;
  at: Date;
}

/** The most recent failed calls (within `since`), newest first, with their service's slug. */
export async function recentFailures(
  db: Executor,
  filter: CallsFilter,
  since: Date,
  limit: number,
): Promise<FailureRow[]> {
  let query = db
    .selectFrom('provider_calls as c')
    .leftJoin('services as s', 's.id', 'c.service_id')
    .where('c.provider_id', '=', filter.providerId)
    .where('c.at', '>=', since)
    .where('c.outcome', '<>', 'ok');
  if (filter.serviceId) query = query.where('c.service_id', '=', filter.serviceId);
  return query
    .select([
      'c.operation',
      's.slug as service',
      'c.outcome',
      'c.status',
      'c.latency_ms',
      'c.error',
      'c.description',
      'c.at',
    ])
    .orderBy('c.at', 'desc')
    .orderBy('c.id', 'desc')
    .limit(limit)
    .execute();
}

/** The id of a provider's service by slug (for the `?service=` filter), or undefined. */
export async function findProviderServiceId(
  db: Executor,
  providerId: string,
  slug: string,
): Promise<string | undefined> {
  const row = await db
    .selectFrom('services')
    .select('id')
    .where('provider_id', '=', providerId)
    .where('slug', '=', slug)
    .executeTakeFirst();
  return row?.id;
}
