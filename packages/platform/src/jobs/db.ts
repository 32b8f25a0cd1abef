import { currentContext, formatTraceparent } from '@annex/tracing';
import { type Kysely, sql, type Transaction } from 'kysely';
import type { DB } from '../db/schema.js';

// Every statement the job runner sends, one function each. Times come from the runner's
// clock (an argument) rather than `now()`, so tests drive leases, backoff and schedules
// without sleeping; replicas' clocks are assumed to agree to well within a lease.

export type JobsExecutor = Kysely<DB> | Transaction<DB>;

/** A job as claimed: its lease is held by the claiming runner. */
export interface ClaimedJobRow {
  id: number;
  kind: string;
  payload: unknown;
  key: string | null;
  attempts: number;
  max_attempts: number;
  run_at: Date;
  traceparent: string | null;
}

export interface NewJob {
  kind: string;
  payload: unknown;
  /** At most one live job per kind and key (see insertJob). */
  key?: string | null | undefined;
  /** When it is due; the database's `now()` when absent. */
  runAt?: Date | undefined;
  maxAttempts?: number | undefined;
}

/**
 * Adds a job. With a `key` a live job of the kind holds already, there is still one job:
 * a pending one becomes due no later than `runAt`; a running one runs once more after it
 * finishes. Either way every idle runner is notified (`annex_jobs`) once the transaction
 * commits.
 */
export async function insertJob(db: JobsExecutor, job: NewJob): Promise<number> {
  // Enqueued inside a traced request: the job's span will continue its trace.
  const context = currentContext();
  const traceparent = context ? formatTraceparent(context) : null;
  const result = await sql<{ id: number }>`
    select annex_enqueue_job(${job.kind}, ${JSON.stringify(job.payload ?? {})}::jsonb, ${job.key ?? null},
      ${job.runAt ?? null}::timestamptz, ${job.maxAttempts ?? 25}, ${traceparent}::text) as id`.execute(db);
  return Number((result.rows[0] as { id: number }).id);
}

/**
 * Leases up to `limit` jobs of `kinds` for `owner`: pending ones that are due, and running
 * ones whose lease expired (their runner died) with attempts left. `FOR UPDATE SKIP LOCKED`
 * lets every runner claim at once without two taking the same job.
 */
export async function claimJobs(
  db: JobsExecutor,
  args: { kinds: readonly string[]; owner: string; now: Date; leaseMs: number; limit: number },
): Promise<ClaimedJobRow[]> {
  const result = await sql<ClaimedJobRow>`
    update jobs set state = 'running', locked_by = ${args.owner},
      locked_until = ${args.now}::timestamptz + ${args.leaseMs}::double precision * interval '1 millisecond',
      attempts = attempts + 1, updated_at = ${args.now}
    where id in (
      select id from jobs
      where kind = any(${[...args.kinds]}::text[])
        and ((state = 'pending' and run_at <= ${args.now})
          or (state = 'running' and locked_until < ${args.now} and attempts < max_attempts))
      order by run_at, id
      limit ${args.limit}
      for update skip locked)
    returning id, kind, payload, key, attempts, max_attempts, run_at, traceparent`.execute(db);
  return result.rows;
}

/** The earliest moment one of `kinds` may be claimable: a pending job's run_at or a lease's end. */
export async function nextJobAt(db: JobsExecutor, kinds: readonly string[]): Promise<Date | null> {
  const result = await sql<{ next: Date | null }>`
    select least(
      (select min(run_at) from jobs where state = 'pending' and kind = any(${[...kinds]}::text[])),
      (select min(locked_until) from jobs where state = 'running' and kind = any(${[...kinds]}::text[]))
    ) as next`.execute(db);
  return result.rows[0]?.next ?? null;
}

/**
 * A job that succeeded leaves the queue, unless it was enqueued again while it ran: then
 * it is pending again, due at that time. False when `owner` no longer held it.
 */
export async function completeJob(db: JobsExecutor, id: number, owner: string): Promise<boolean> {
  const result = await sql<{ id: number }>`
    with done as (delete from jobs where id = ${id} and locked_by = ${owner} and rerun_at is null returning id),
    again as (
      update jobs set state = 'pending', run_at = rerun_at, rerun_at = null, attempts = 0,
        locked_by = null, locked_until = null, last_error = null, updated_at = now()
      where id = ${id} and locked_by = ${owner} and rerun_at is not null
      returning id)
    select id from done union all select id from again`.execute(db);
  return result.rows.length === 1;
}

/**
 * Records a failed attempt: the job is due again after `delayMs` (retryDelayMs, the one
 * policy; sooner if it was enqueued again meanwhile), or, with no attempt left, stays as
 * 'failed' with its last error.
 */
export async function failJob(
  db: JobsExecutor,
  args: { id: number; owner: string; now: Date; error: string; delayMs: number },
): Promise<{ state: 'pending' | 'failed'; run_at: Date } | undefined> {
  const result = await sql<{ state: 'pending' | 'failed'; run_at: Date }>`
    update jobs set
      state = case when attempts >= max_attempts then 'failed' else 'pending' end,
      run_at = case when attempts >= max_attempts then run_at
        else least(rerun_at, ${args.now}::timestamptz + ${args.delayMs}::double precision * interval '1 millisecond') end,
      rerun_at = null, locked_by = null, locked_until = null, last_error = ${args.error}, updated_at = ${args.now}
    where id = ${args.id} and locked_by = ${args.owner}
    returning state, run_at`.execute(db);
  return result.rows[0];
}

/** The handler asked to run again at `runAt`: not a failure, so the attempt is given back. */
export async function postponeJob(
  db: JobsExecutor,
  args: { id: number; owner: string; now: Date; runAt: Date },
): Promise<boolean> {
  const result = await sql`
    update jobs set state = 'pending', run_at = least(rerun_at, ${args.runAt}::timestamptz),
      attempts = greatest(attempts - 1, 0), rerun_at = null, locked_by = null, locked_until = null, updated_at = ${args.now}
    where id = ${args.id} and locked_by = ${args.owner}`.execute(db);
  return Number(result.numAffectedRows ?? 0) === 1;
}

/** Gives leases back at once (a stopping runner), so another runner need not wait for them. */
export async function releaseJobs(
  db: JobsExecutor,
  args: { ids: readonly number[]; owner: string; now: Date },
): Promise<number> {
  if (args.ids.length === 0) return 0;
  const result = await sql`
    update jobs set state = 'pending', run_at = ${args.now}, attempts = greatest(attempts - 1, 0),
      rerun_at = null, locked_by = null, locked_until = null, updated_at = ${args.now}
    where id = any(${[...args.ids]}::bigint[]) and locked_by = ${args.owner}`.execute(db);
  return Number(result.numAffectedRows ?? 0);
}

/** Keeps the leases of the jobs `owner` is running from expiring while they run. */
export async function extendLeases(
  db: JobsExecutor,
  args: { owner: string; now: Date; leaseMs: number },
): Promise<number> {
  const result = await sql`
    update jobs set locked_until = ${args.now}::timestamptz + ${args.leaseMs}::double precision * interval '1 millisecond'
    where state = 'running' and locked_by = ${args.owner}`.execute(db);
  return Number(result.numAffectedRows ?? 0);
}

/**
 * Jobs whose runner died during their last attempt: nobody will claim them again, so
 * they are marked failed, naming the lost lease. (Those with attempts left are claimed
 * again by `claimJobs`.)
 */
export async function failStaleJobs(db: JobsExecutor, args: { kinds: readonly string[]; now: Date }): Promise<number> {
  const result = await sql`
    update jobs set state = 'failed',
      last_error = 'its runner (' || locked_by || ') stopped during its last attempt; the lease expired',
      locked_by = null, locked_until = null, updated_at = ${args.now}
    where state = 'running' and locked_until < ${args.now} and attempts >= max_attempts
      and kind = any(${[...args.kinds]}::text[])`.execute(db);
  return Number(result.numAffectedRows ?? 0);
}

/**
 * Enqueues a recurring job for the period starting at `period`, unless some runner did so
 * already: the schedule's row moves forward in the same statement, so across replicas
 * exactly one insert happens per period. Returns the job id, or undefined when it was done.
 */
export async function enqueueScheduledJob(
  db: JobsExecutor,
  args: { name: string; kind: string; payload: unknown; key: string; period: Date; maxAttempts: number },
): Promise<number | undefined> {
  const result = await sql<{ id: number }>`
    with claimed as (
      insert into job_schedules (name, last_period) values (${args.name}, ${args.period})
      on conflict (name) do update set last_period = excluded.last_period
        where job_schedules.last_period < excluded.last_period
      returning name)
    select annex_enqueue_job(${args.kind}, ${JSON.stringify(args.payload ?? {})}::jsonb, ${args.key},
      ${args.period}::timestamptz, ${args.maxAttempts}) as id
    from claimed`.execute(db);
  const id = result.rows[0]?.id;
  return id === undefined ? undefined : Number(id);
}

/**
 * Marks `period` done for a schedule seen for the first time, so that its first job is
 * the next period's. No change when the schedule has run before.
 */
export async function initSchedule(db: JobsExecutor, args: { name: string; period: Date }): Promise<void> {
  await sql`insert into job_schedules (name, last_period) values (${args.name}, ${args.period})
    on conflict (name) do nothing`.execute(db);
}

/** Jobs that used their last attempt, newest first (for operators and tests). */
export async function failedJobs(
  db: JobsExecutor,
  kind?: string,
): Promise<{ id: number; kind: string; payload: unknown; attempts: number; last_error: string | null }[]> {
  let query = db
    .selectFrom('jobs')
    .select(['id', 'kind', 'payload', 'attempts', 'last_error'])
    .where('state', '=', 'failed')
    .orderBy('updated_at', 'desc')
    .orderBy('id', 'desc');
  if (kind !== undefined) query = query.where('kind', '=', kind);
  return query.execute();
}
